"""Mounted at the site root: /agenda/… and a contact's agenda at /contacts/<pk>/agenda/."""

from django.urls import path

from crm.agenda import bulk_email_views, email_views, views

app_name = "agenda"
urlpatterns = [
    path("agenda/", views.AgendaView.as_view(), name="home"),
    path("agenda/tasks/new/", views.TaskCreateView.as_view(), name="task-new"),
    path("agenda/tasks/<int:pk>/complete/", views.TaskCompleteView.as_view(), name="task-complete"),
    path("agenda/steps/<int:pk>/complete/", views.StepCompleteView.as_view(), name="step-complete"),
    path("agenda/workflows/start/", views.WorkflowStartView.as_view(), name="workflow-start"),
    path("agenda/workflows/<int:pk>/", views.WorkflowView.as_view(), name="workflow"),
    path("agenda/workflow-starts/<int:pk>/", views.BatchView.as_view(), name="batch"),
    path("agenda/workflow-templates/", views.TemplateListView.as_view(), name="templates"),
    path("agenda/workflow-templates/<int:pk>/", views.TemplateEditView.as_view(), name="template"),
    path("agenda/notes/<int:pk>/", views.NoteEditView.as_view(), name="note-edit"),
    path("agenda/bulk-emails/", bulk_email_views.BulkEmailListView.as_view(), name="bulk-emails"),
    path("agenda/bulk-emails/new/", bulk_email_views.BulkEmailNewView.as_view(), name="bulk-email-new"),
    path("agenda/bulk-emails/<int:pk>/", bulk_email_views.BulkEmailDetailView.as_view(), name="bulk-email"),
    path(
        "agenda/bulk-emails/<int:pk>/cancel/", bulk_email_views.BulkEmailCancelView.as_view(), name="bulk-email-cancel"
    ),
    path("agenda/message-templates/", email_views.MessageTemplateListView.as_view(), name="message-templates"),
    path("agenda/message-templates/new/", email_views.MessageTemplateNewView.as_view(), name="message-template-new"),
    path("agenda/message-templates/<int:pk>/", email_views.MessageTemplateEditView.as_view(), name="message-template"),
    path("agenda/emails/", email_views.EmailListView.as_view(), name="emails"),
    path("agenda/emails/<int:pk>/", email_views.EmailDetailView.as_view(), name="email"),
    path("contacts/<int:pk>/email/", email_views.ContactEmailView.as_view(), name="contact-email"),
    path("contacts/<int:pk>/agenda/", views.ContactAgendaView.as_view(), name="contact"),
    path("contacts/<int:pk>/agenda/notes/", views.NoteCreateView.as_view(), name="note-new"),
]
