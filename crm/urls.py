from django.urls import path

from crm import views

app_name = "crm"
urlpatterns = [
    path("", views.ContactListView.as_view(), name="contact-list"),
    path("new/", views.ContactFormView.as_view(), name="contact-create"),
    path("bulk/", views.contact_bulk, name="contact-bulk"),
    path("columns/", views.table_columns, name="table-columns"),
    path("picker/", views.contact_picker, name="contact-picker"),
    path("views/", views.saved_view_save, name="saved-view-save"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved-view-delete"),
    path("<int:pk>/", views.ContactDetailView.as_view(), name="contact-detail"),
    path("<int:pk>/edit/", views.ContactFormView.as_view(), name="contact-edit"),
    path("<int:pk>/activity/", views.contact_activity_add, name="contact-activity"),
    path("<int:pk>/tax-id/", views.contact_reveal_tax_id, name="contact-tax-id"),
    path("<int:pk>/picture/", views.contact_picture, name="contact-picture"),
    path("<int:pk>/groups/", views.contact_groups_change, name="contact-groups"),
    path("groups/", views.group_list, name="group-list"),
    path("groups/<int:pk>/", views.group_detail, name="group-detail"),
    path("households/", views.household_list, name="household-list"),
    path("households/<int:pk>/", views.household_detail, name="household-detail"),
]
