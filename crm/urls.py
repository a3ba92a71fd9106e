from django.urls import path

from crm import views

app_name = "crm"
urlpatterns = [
    path("", views.ContactListView.as_view(), name="contact-list"),
    path("<int:pk>/", views.ContactDetailView.as_view(), name="contact-detail"),
]
