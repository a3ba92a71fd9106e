"""Issue approval links for ``make bench``'s ``approval_page``: ``count`` links of the firm's
first request awaiting its client, printed as JSON tokens (never in production)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Firm
from advisorportal.links.services import link_issue
from advisorportal.tenancy.context import firm_scope
from funding import services
from funding.models import FundingRequest, Status


class Command(BaseCommand):
    help = "Print approval-link tokens of a demo firm's request awaiting its client (for the bench)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm")
        parser.add_argument("count", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("bench_approval_links never runs with production settings.")
        firm = Firm.objects.get(slug=options["firm"])
        with firm_scope(firm):
            request = FundingRequest.objects.filter(status=Status.AWAITING_CLIENT).order_by("pk").first()
            if request is None:
                raise CommandError("The firm has no request awaiting its client (seed_demo makes one).")
            tokens = [
                link_issue(purpose=services.LINK_PURPOSE, recipient_email=request.client.email or "bench@example.test",
                           fingerprint=services.content_fingerprint(request), subject=request).token
                for _ in range(options["count"])
            ]  # fmt: skip
        self.stdout.write(json.dumps({"tokens": tokens}))
