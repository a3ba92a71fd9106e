"""API routes of documents, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.documents.api import ContactDocumentViewSet, DocumentViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("documents", DocumentViewSet, basename="document")
router.register(r"contacts/(?P<contact_pk>[0-9]+)/documents", ContactDocumentViewSet, basename="contact-document")

urlpatterns = [path("", include(router.urls))]
