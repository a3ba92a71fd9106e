"""Mounted at /reports/planning/ (before the reports' own routes)."""

from django.urls import path

from reports.planning import esg_views, views

app_name = "planning"
urlpatterns = [
    path("", views.index, name="index"),
    path("questionnaires/<int:pk>/", views.questionnaire_detail, name="questionnaire"),
    path("questionnaires/<int:pk>/edit/", views.questionnaire_edit, name="questionnaire-edit"),
    path("questionnaires/<int:pk>/copy/", views.questionnaire_copy, name="questionnaire-copy"),
    path("questionnaires/<int:pk>/delete/", views.questionnaire_delete, name="questionnaire-delete"),
    path("questionnaires/<int:pk>/questions/new/", views.question_add, name="question-add"),
    path("questions/<int:pk>/edit/", views.question_edit, name="question-edit"),
    path("questions/<int:pk>/delete/", views.question_delete, name="question-delete"),
    path("contacts/<int:pk>/", views.contact_planning, name="contact"),
    path("contacts/<int:pk>/risk-scores/new/", views.risk_score_new, name="risk-score-new"),
    path("contacts/<int:pk>/risk-scores/<int:score>/", views.risk_score_detail, name="risk-score"),
    path("contacts/<int:pk>/goals/new/", views.goal_new, name="goal-new"),
    path("contacts/<int:pk>/esg/", esg_views.esg_contact, name="esg-contact"),
    path("esg/<str:token>/", esg_views.esg_rank, name="esg-rank"),
    path("goals/<int:pk>/", views.goal_detail, name="goal"),
    path("goals/<int:pk>/edit/", views.goal_edit, name="goal-edit"),
    path("goals/<int:pk>/delete/", views.goal_delete, name="goal-delete"),
]
