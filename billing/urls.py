from django.urls import path

from billing import adjustment_views, exclusion_views, invoice_views, views

app_name = "billing"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("fee-calculator/", views.FeeCalculatorView.as_view(), name="fee-calculator"),
    path("runs/<int:pk>/invoices/", invoice_views.InvoicesPanelView.as_view(), name="run-invoices"),
    path("runs/<int:pk>/summary.csv", invoice_views.RunSummaryCsvView.as_view(), name="run-summary-csv"),
    path("runs/<int:pk>/summary.xlsx", invoice_views.RunSummaryXlsxView.as_view(), name="run-summary-xlsx"),
    path("invoices/<int:pk>.pdf", invoice_views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoice-copy/<str:token>/", invoice_views.invoice_copy, name="invoice-copy"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("schedules/", views.SchedulesView.as_view(), name="schedules"),
    path(
        "schedules/new/",
        exclusion_views.ScheduleCreateView.as_view(http_method_names=["get", "post"]),
        name="schedule-new",
    ),
    path("schedules/<int:pk>/", views.ScheduleDetailView.as_view(), name="schedule"),
    path("schedules/<int:pk>/versions/", exclusion_views.ScheduleTermsView.as_view(), name="schedule-version"),
    path("schedules/<int:pk>/assign/", exclusion_views.ScheduleAssignmentsView.as_view(), name="schedule-assign"),
    path("schedules/<int:pk>/default/", views.ScheduleDefaultView.as_view(), name="schedule-default"),
    path("assignments/<int:pk>/remove/", views.AssignmentRemoveView.as_view(), name="assignment-remove"),
    path("runs/", views.RunsView.as_view(), name="runs"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run"),
    path("runs/<int:pk>/recompute/", views.RunActionView.as_view(action="recompute"), name="run-recompute"),
    path("runs/<int:pk>/approve/", views.RunActionView.as_view(action="approve"), name="run-approve"),
    path("runs/<int:pk>/post/", views.RunActionView.as_view(action="post"), name="run-post"),
    path("runs/<int:pk>/discard/", views.RunActionView.as_view(action="discard"), name="run-discard"),
    path("schedules/create/", exclusion_views.ScheduleCreateView.as_view(), name="schedule-create"),
    path("schedules/<int:pk>/terms/", exclusion_views.ScheduleTermsView.as_view(), name="schedule-terms"),
    path("schedules/<int:pk>/assigning/", exclusion_views.ScheduleAssignmentsView.as_view(), name="schedule-assigning"),
    path("adjustments/", adjustment_views.AdjustmentsView.as_view(), name="adjustments"),
    path("adjustments/new/", adjustment_views.AdjustmentNewView.as_view(), name="adjustment-new"),
    path("adjustments/recurring/new/", adjustment_views.RecurringNewView.as_view(), name="recurring-new"),
    path("adjustments/recurring/<int:pk>/stop/", adjustment_views.RecurringStopView.as_view(), name="recurring-stop"),
]

from billing import increase_views, upload_views  # noqa: E402 - fee increases and uploads (issue #18, points 5, 6)

urlpatterns += [
    path("increases/", increase_views.IncreasesView.as_view(), name="increases"),
    path("increases/<int:pk>/resend/", increase_views.IncreaseActionView.as_view(action="resend"),
         name="increase-resend"),
    path("increases/<int:pk>/cancel/", increase_views.IncreaseActionView.as_view(action="cancel"),
         name="increase-cancel"),
    path("uploads/", upload_views.UploadView.as_view(), name="uploads"),
]  # fmt: skip
