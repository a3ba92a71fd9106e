"""Firm tenancy: the five layers described in docs/architecture.md."""
