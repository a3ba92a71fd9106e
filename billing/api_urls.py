"""API routes of fee billing, included under /api/v1/ (the names are a contract)."""

from django.urls import path

from billing import api

urlpatterns = [
    path("billing/fee-calculator/", api.FeeCalculatorView.as_view(), name="billing-fee-calculator"),
]
