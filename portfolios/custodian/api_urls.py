"""API routes of custodian imports, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from portfolios.custodian.api import ImportJobViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("imports", ImportJobViewSet, basename="import")

urlpatterns = [path("", include(router.urls))]
