"""API routes of client accounts and portfolio data, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from portfolios.api import AccountTransactionViewSet, ClientAccountViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", ClientAccountViewSet, basename="client-account")

urlpatterns = [
    path(
        "accounts/<int:account_pk>/transactions/",
        AccountTransactionViewSet.as_view({"get": "list"}),
        name="client-account-transactions",
    ),
    path("", include(router.urls)),
]
