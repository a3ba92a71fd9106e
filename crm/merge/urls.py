"""Mounted at /contacts/ before crm's own routes: merge pages and the client information PDF."""

from django.urls import path

from crm.merge import views

app_name = "contact_merge"
urlpatterns = [
    path("merge/", views.DuplicatesView.as_view(), name="duplicates"),
    path("merge/compare/", views.CompareView.as_view(), name="compare"),
    path("merge/<int:pk>/", views.MergeDetailView.as_view(), name="detail"),
    path("merge/<int:pk>/undo/", views.MergeUndoView.as_view(), name="undo"),
    path("<int:pk>/client-information.pdf", views.ClientPdfView.as_view(), name="client-pdf"),
]
