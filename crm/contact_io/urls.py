"""Mounted under /contacts/ before the CRM's own routes."""

from django.urls import path

from crm.contact_io import views

app_name = "contact_io"
urlpatterns = [
    path("import/", views.import_start, name="import-start"),
    path("import/template.xlsx", views.import_template, name="import-template"),
    path("import/<int:pk>/", views.import_detail, name="import-detail"),
    path("import/<int:pk>/mapping/", views.import_mapping, name="import-mapping"),
    path("import/<int:pk>/apply/", views.import_apply, name="import-apply"),
    path("import/<int:pk>/cancel/", views.import_cancel, name="import-cancel"),
    path("import/<int:pk>/retry/", views.import_retry, name="import-retry"),
    path("import/<int:pk>/undo/", views.import_undo, name="import-undo"),
    path("export/summary.csv", views.export_summary, name="export-summary"),
    path("export/tasks.csv", views.export_tasks, name="export-tasks"),
    path("export/client-data.xlsx", views.export_full, name="export-full"),
]
