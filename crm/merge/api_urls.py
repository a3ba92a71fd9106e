"""API routes of contact merges and the client information PDF, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.merge.api import ClientPdfAPIView, ContactMergeViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("contact-merges", ContactMergeViewSet, basename="contact-merge")

urlpatterns = [
    path("contacts/<int:pk>/client-information.pdf", ClientPdfAPIView.as_view(), name="contact-client-pdf"),
    path("", include(router.urls)),
]
