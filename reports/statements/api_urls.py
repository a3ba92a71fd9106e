"""API routes of statements and report definitions, included under /api/v1/ (the names are a contract)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from reports.statements import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("reports/statements", api.StatementViewSet, basename="reports-statement")
router.register("reports/definitions", api.DefinitionViewSet, basename="reports-definition")

urlpatterns = [path("", include(router.urls))]
