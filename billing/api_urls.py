"""API routes of fee billing, included under /api/v1/ (the names are a contract)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from billing import api, api_adjustments, api_increases, api_invoices, api_upload

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("billing/schedules", api.ScheduleViewSet, basename="billing-schedule")
router.register("billing/assignments", api.AssignmentViewSet, basename="billing-assignment")
router.register("billing/runs", api.RunViewSet, basename="billing-run")
router.register("billing/adjustments", api_adjustments.AdjustmentViewSet, basename="billing-adjustment")
router.register("billing/recurring-adjustments", api_adjustments.RecurringViewSet, basename="billing-recurring")
router.register("billing/fee-increases", api_increases.FeeIncreaseViewSet, basename="billing-fee-increase")

urlpatterns = [
    path("billing/fee-calculator/", api.FeeCalculatorView.as_view(), name="billing-fee-calculator"),
    path("billing/runs/<int:pk>/invoices/", api_invoices.RunInvoicesAPIView.as_view(), name="billing-run-invoices"),
    path("billing/invoices/<int:pk>/", api_invoices.InvoiceAPIView.as_view(), name="billing-invoice"),
    path(
        "billing/versions/<int:pk>/exclusions/",
        api_adjustments.VersionExclusionsView.as_view(),
        name="billing-version-exclusions",
    ),
    path(
        "billing/assignments/<int:pk>/exclusions/",
        api_adjustments.AssignmentExclusionsView.as_view(),
        name="billing-assignment-exclusions",
    ),
    path("billing/uploads/", api_upload.UploadAPIView.as_view(), name="billing-uploads"),
    path("", include(router.urls)),
]
