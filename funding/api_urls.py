"""API routes of money movement, included under /api/v1/ (the names are a contract)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from funding import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("funding-requests", api.FundingRequestViewSet, basename="funding-request")
router.register("bank-instructions", api.BankInstructionViewSet, basename="bank-instruction")
router.register("full-service-enrollments", api.EnrollmentViewSet, basename="full-service-enrollment")

urlpatterns = [
    path("funding-settings/", api.FundingSettingsView.as_view(), name="funding-settings"),
    path("", include(router.urls)),
]
