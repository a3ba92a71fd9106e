from django.urls import path

from funding import views

app_name = "funding"
urlpatterns = [
    path("", views.TransferPayView.as_view(), name="index"),
    *[
        path(f"requests/new/{slug}/", views.RequestNewView.as_view(slug=slug), name=f"new-{slug}")
        for slug in views.KIND_SLUGS
    ],
    path("requests/<int:pk>/", views.RequestDetailView.as_view(), name="request"),
    path("requests/<int:pk>/edit/", views.RequestEditView.as_view(), name="request-edit"),
    *[
        path(f"requests/<int:pk>/{action}/", views.RequestActionView.as_view(action=action), name=f"request-{action}")
        for action in views.ACTIONS
    ],
    path("history/", views.HistoryView.as_view(), name="history"),
    path("history.csv", views.HistoryCsvView.as_view(), name="history-csv"),
    path("instruction-files/", views.InstructionFilesView.as_view(), name="instruction-files"),
    path(
        "instruction-files/<int:pk>/download/",
        views.InstructionFileDownloadView.as_view(),
        name="instruction-file-download",
    ),
    path("contacts/<int:pk>/bank-instructions/", views.BankInstructionsView.as_view(), name="bank-instructions"),
    path(
        "contacts/<int:pk>/bank-instructions/new/",
        views.BankInstructionNewView.as_view(),
        name="bank-instruction-new",
    ),
    path("contacts/<int:pk>/enrolment/", views.EnrollmentView.as_view(), name="enrollment"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
]
