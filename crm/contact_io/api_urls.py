"""API routes of contact import and export, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.contact_io.api import ContactExportView, ContactImportViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("contact-imports", ContactImportViewSet, basename="contact-import")

urlpatterns = [
    path("contact-exports/<str:kind>/", ContactExportView.as_view(), name="contact-export"),
    path("", include(router.urls)),
]
