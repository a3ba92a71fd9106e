"""Mounted at the site root: /agenda/… and a contact's agenda at /contacts/<pk>/agenda/."""

from django.urls import path

from crm.agenda import views

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
    path("contacts/<int:pk>/agenda/", views.ContactAgendaView.as_view(), name="contact"),
    path("contacts/<int:pk>/agenda/notes/", views.NoteCreateView.as_view(), name="note-new"),
]
