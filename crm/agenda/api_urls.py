"""API routes of the agenda, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.agenda import api, bulk_email_api, email_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("workflow-templates", api.TemplateViewSet, basename="workflow-template")
router.register("workflows", api.WorkflowViewSet, basename="workflow")
router.register("workflow-steps", api.StepViewSet, basename="workflow-step")
router.register("tasks", api.TaskViewSet, basename="task")
router.register("notes", api.NoteViewSet, basename="note")
router.register("bulk-emails", bulk_email_api.BulkEmailViewSet, basename="bulk-email")
router.register("message-templates", email_api.MessageTemplateViewSet, basename="message-template")
router.register("emails", email_api.EmailViewSet, basename="email")

urlpatterns = [path("", include(router.urls))]
