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
]
