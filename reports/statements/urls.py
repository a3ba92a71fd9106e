"""Mounted at /reports/statements/ (included from ``reports.urls``)."""

from django.urls import path

from reports.statements import views

app_name = "statements"
urlpatterns = [
    path("", views.StatementsView.as_view(), name="index"),
    path("<int:pk>/", views.StatementView.as_view(), name="statement"),
    path("<int:pk>/pdf/", views.StatementPdfView.as_view(), name="statement-pdf"),
    path("<int:pk>/csv/", views.StatementCsvView.as_view(), name="statement-csv"),
    path("<int:pk>/xlsx/", views.StatementXlsxView.as_view(), name="statement-xlsx"),
    path("contacts/<int:pk>/", views.ContactStatementsView.as_view(), name="contact"),
    path("disclosures/", views.DisclosuresView.as_view(), name="disclosures"),
    path("definitions/", views.DefinitionsView.as_view(), name="definitions"),
    path("definitions/<int:pk>/", views.DefinitionView.as_view(), name="definition"),
    path("definitions/<int:pk>/run/", views.DefinitionRunView.as_view(), name="definition-run"),
    path("definitions/<int:pk>/delete/", views.DefinitionDeleteView.as_view(), name="definition-delete"),
    path("copy/<str:token>/", views.statement_copy, name="copy"),
]
