"""API routes of the planning tools, included under /api/v1/ (the names are a contract)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from reports.planning import api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("planning/questionnaires", api.QuestionnaireViewSet, basename="planning-questionnaire")
router.register(
    r"planning/contacts/(?P<contact_pk>[0-9]+)/risk-scores",
    api.ContactRiskScoreViewSet,
    basename="planning-contact-risk-score",
)
router.register("planning/risk-scores", api.RiskScoreViewSet, basename="planning-risk-score")
router.register(
    r"planning/contacts/(?P<contact_pk>[0-9]+)/goals", api.ContactGoalViewSet, basename="planning-contact-goal"
)
router.register("planning/goals", api.GoalViewSet, basename="planning-goal")

urlpatterns = [
    path(
        "planning/questionnaires/<int:pk>/setup/",
        api.QuestionnaireSetupView.as_view(),
        name="planning-questionnaire-setup",
    ),
    path(
        "planning/questionnaires/<int:pk>/copy/",
        api.QuestionnaireCopyView.as_view(),
        name="planning-questionnaire-copy",
    ),
    path("planning/questionnaires/<int:pk>/questions/", api.QuestionAddView.as_view(), name="planning-question-add"),
    path("planning/questions/<int:pk>/", api.QuestionView.as_view(), name="planning-question"),
    path("planning/esg/values/", api.EsgValuesView.as_view(), name="planning-esg-values"),
    path("planning/esg/contacts/<int:pk>/", api.EsgContactView.as_view(), name="planning-esg-contact"),
    path("planning/esg/contacts/<int:pk>/invitations/", api.EsgInviteView.as_view(), name="planning-esg-invite"),
    path("", include(router.urls)),
]
