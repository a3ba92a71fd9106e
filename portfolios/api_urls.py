"""API routes of client accounts and portfolio data, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

urlpatterns = [
    path("", include(router.urls)),
]
