"""API routes of client accounts and portfolio data, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from portfolios.api import AccountHoldViewSet, AccountTransactionViewSet, ClientAccountViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", ClientAccountViewSet, basename="client-account")

urlpatterns = [
    path(
        "accounts/<int:account_pk>/transactions/",
        AccountTransactionViewSet.as_view({"get": "list"}),
        name="client-account-transactions",
    ),
    path(
        "accounts/<int:account_pk>/holds/", AccountHoldViewSet.as_view({"post": "create"}), name="client-account-holds"
    ),
    path(
        "accounts/<int:account_pk>/holds/<int:pk>/release/",
        AccountHoldViewSet.as_view({"post": "release"}),
        name="client-account-hold-release",
    ),
    path("", include(router.urls)),
]
