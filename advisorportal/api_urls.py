"""Everything under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import ApiTokenViewSet, AuditEntryViewSet, MeView
from advisorportal.shell.api import DashboardPanelsAPIView
from advisorportal.shell.notifications_api import NotificationViewSet
from crm.api import ContactViewSet, GroupViewSet, HouseholdViewSet, SavedViewViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("contacts", ContactViewSet, basename="contact")
router.register("households", HouseholdViewSet, basename="household")
router.register("groups", GroupViewSet, basename="group")
router.register("saved-views", SavedViewViewSet, basename="saved-view")
router.register("audit", AuditEntryViewSet, basename="audit")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("dashboard/panels/", DashboardPanelsAPIView.as_view(), name="dashboard-panels"),
    path("", include(router.urls)),
    path("", include("portfolios.api_urls")),
    path("", include("crm.merge.api_urls")),
    path("", include("crm.documents.api_urls")),
    path("", include("portfolios.custodian.api_urls")),
    path("", include("crm.contact_io.api_urls")),
    path("", include("crm.agenda.api_urls")),
    path("", include("crm.agenda.calendar.api_urls")),
    path("", include("funding.api_urls")),
    path("", include("reports.api_urls")),
    path("", include("reports.planning.api_urls")),
    path("", include("reports.statements.api_urls")),
    path("", include("billing.api_urls")),
]
