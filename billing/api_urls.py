"""API routes of fee billing, included under /api/v1/ (the names are a contract)."""

from django.urls import path

from billing import api, api_invoices

urlpatterns = [
    path("billing/fee-calculator/", api.FeeCalculatorView.as_view(), name="billing-fee-calculator"),
    path("billing/runs/<int:pk>/invoices/", api_invoices.RunInvoicesAPIView.as_view(), name="billing-run-invoices"),
    path("billing/invoices/<int:pk>/", api_invoices.InvoiceAPIView.as_view(), name="billing-invoice"),
]
