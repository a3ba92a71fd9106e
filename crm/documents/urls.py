"""Mounted at /contacts/ before crm's own routes: /contacts/documents/ and a contact's documents."""

from django.urls import path

from crm.documents import views

app_name = "documents"
urlpatterns = [
    path("documents/", views.firm_documents, name="firm-documents"),
    path("<int:pk>/documents/", views.contact_documents, name="contact-documents"),
    path("<int:pk>/documents/<int:doc>/", views.document_detail, name="detail"),
    path("<int:pk>/documents/<int:doc>/file", views.document_file, name="file"),
    path("<int:pk>/documents/<int:doc>/download", views.document_download, name="download"),
    path("<int:pk>/documents/<int:doc>/delete/", views.document_delete, name="delete"),
]
