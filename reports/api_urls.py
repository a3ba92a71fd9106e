"""API routes of the stateless calculators, included under /api/v1/ (the names are a contract)."""

from django.urls import path

from reports import api

urlpatterns = [
    path("tools/xirr/", api.XirrView.as_view(), name="tools-xirr"),
    path("tools/xnpv/", api.XnpvView.as_view(), name="tools-xnpv"),
    path("tools/irr/", api.IrrView.as_view(), name="tools-irr"),
    path("tools/returns/", api.ReturnsView.as_view(), name="tools-returns"),
    path("tools/rmd/", api.RmdView.as_view(), name="tools-rmd"),
    path("reports/performance/", api.PerformanceView.as_view(), name="reports-performance"),
    path("reports/benchmarks/", api.BlendListView.as_view(), name="reports-blends"),
    path("reports/benchmarks/<int:pk>/", api.BlendDetailView.as_view(), name="reports-blend"),
    path("reports/queries/performance/", api.PerformanceQueryView.as_view(), name="reports-query-performance"),
    path("reports/queries/symbol/", api.SymbolQueryView.as_view(), name="reports-query-symbol"),
    path("reports/queries/activity/", api.ActivityQueryView.as_view(), name="reports-query-activity"),
    path("reports/queries/rmd/", api.RmdQueryView.as_view(), name="reports-query-rmd"),
    path("reports/queries/accounts/", api.AccountQueryView.as_view(), name="reports-query-accounts"),
]
