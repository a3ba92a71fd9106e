"""Build the two demo firms of PRODUCT.md's demo data contract.

Safe to run again: firms and users are kept, their passwords and API tokens are renewed, and
``var/demo-credentials.json`` is written afresh. ``--reset`` rebuilds the demo firms' data.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services, two_factor
from accounts.models import AccountScope, ApiToken, Firm, User
from accounts.rights import Right, Role
from advisorportal.tenancy.context import firm_scope
from crm.models import Contact, Group, Household, HouseholdMember
from crm.selectors import contacts_changed
from devtools.demo.agenda import seed_agenda
from devtools.demo.billing import delete_billing, seed_billing
from devtools.demo.calendar_events import seed_calendar
from devtools.demo.crm import seed_contacts
from devtools.demo.documents import seed_documents
from devtools.demo.funding import delete_funding, seed_funding
from devtools.demo.mail import seed_mail
from devtools.demo.planning import seed_planning
from devtools.demo.portfolios import delete_portfolios, seed_portfolios
from devtools.demo.statements import delete_statements, seed_statements

DEMO_FIRMS = (
    ("harbor", "Harbor Wealth Partners", "#1f4e79", "#c8902b"),
    ("summit", "Summit Ridge Advisors", "#2e5e4e", "#b5523b"),
)
DEMO_USERS = (
    ("owner", "Primary user", Role.PRIMARY, None),
    ("advisor", "Advisor", Role.ADVISOR, None),
    ("assistant", "Staff", Role.STAFF, frozenset({Right.CRM})),
)
PERSON_NAMES = {
    "harbor": ("Helen Harper", "Adam Reyes", "Ivy Chen"),
    "summit": ("Samuel Stone", "Maya Okafor", "Leo Brandt"),
}


class Command(BaseCommand):
    help = "Create the demo firms Harbor Wealth Partners and Summit Ridge Advisors with users and data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=120, help="contacts per firm (default 120)")
        parser.add_argument("--accounts", type=int, default=30, help="client accounts per firm (default 30)")
        parser.add_argument("--years", type=int, default=1, help="years of portfolio history (default 1)")
        parser.add_argument("--tasks", type=int, default=0, help="extra open tasks per firm, for benchmarks")
        parser.add_argument(
            "--funding", type=int, default=0, help="extra waiting funding requests per firm, for benchmarks"
        )
        parser.add_argument("--firms", default="harbor,summit", help="comma-separated demo firm slugs to build")
        parser.add_argument(
            "--seed", type=int, default=20261121, help="random seed; the same seed builds the same data"
        )
        parser.add_argument(
            "--backup-codes", type=int, default=two_factor.BACKUP_CODES,
            help=f"backup codes per demo user (default {two_factor.BACKUP_CODES}; browser tests sign in often)",
        )  # fmt: skip
        parser.add_argument("--reset", action="store_true", help="delete and rebuild the demo firms' data")
        parser.add_argument("--credentials", default=str(settings.VAR_DIR / "demo-credentials.json"))

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo never runs with production settings.")
        if options["contacts"] < 0 or options["contacts"] > 1_000_000:
            raise CommandError("--contacts must be between 0 and 1000000.")
        if options["accounts"] < 0 or options["accounts"] > 1_000_000:
            raise CommandError("--accounts must be between 0 and 1000000.")
        if not 1 <= options["years"] <= 30:
            raise CommandError("--years must be between 1 and 30.")
        if not 1 <= options["backup_codes"] <= 100:
            raise CommandError("--backup-codes must be between 1 and 100.")
        self.backup_codes = options["backup_codes"]
        wanted = [f for f in DEMO_FIRMS if f[0] in options["firms"].split(",")]
        credentials: dict[str, Any] = {"firms": {}}
        for index, (slug, name, primary, accent) in enumerate(wanted):
            firm = Firm.objects.filter(slug=slug).first()
            if firm is None:
                firm = services.firm_create(name=name, slug=slug, brand_primary=primary, brand_accent=accent)
            with firm_scope(firm):
                if options["reset"]:
                    self._delete_data(firm)
                users = self._users(firm, slug)
                if not Contact.objects.exists():
                    self._contacts(firm, options["contacts"], options["seed"] + index)
                seed_portfolios(
                    firm=firm, accounts=options["accounts"], years=options["years"], seed=options["seed"] + index,
                    log=self.stdout.write,
                )  # fmt: skip
                seed_documents(firm=firm, log=self.stdout.write)
                seed_agenda(
                    firm=firm, extra_tasks=options["tasks"], seed=options["seed"] + index, log=self.stdout.write
                )
                seed_calendar(firm=firm, seed=options["seed"] + index, log=self.stdout.write)
                seed_mail(firm=firm, log=self.stdout.write)
                seed_funding(firm=firm, extra_waiting=options["funding"], log=self.stdout.write)
                seed_planning(firm=firm, seed=options["seed"] + index, log=self.stdout.write)
                seed_statements(firm=firm, log=self.stdout.write)
                seed_billing(firm=firm, log=self.stdout.write)
                credentials["firms"][slug] = {"name": firm.name, "users": users}
            self.stdout.write(f"{firm.name}: {len(users)} users, {self._count(firm)} contacts")
        path = Path(options["credentials"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(credentials, indent=2))
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Demo logins written to {path}"))

    @staticmethod
    def _count(firm: Firm) -> int:
        with firm_scope(firm):
            return Contact.objects.count()

    @transaction.atomic
    def _users(self, firm: Firm, slug: str) -> list[dict[str, Any]]:
        out = []
        for (local, title, role, rights), full_name in zip(DEMO_USERS, PERSON_NAMES[slug], strict=True):
            email = f"{local}@{slug}.example"
            password = secrets.token_urlsafe(12)
            user = User.objects.filter(email=email).first()
            if user is None:
                user = services.user_create(
                    firm=firm, email=email, full_name=full_name, role=role, password=password, rights=rights
                )
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            ApiToken.objects.filter(user=user, name="demo").delete()
            _, token = services.api_token_create(user=user, name="demo")
            secret = secrets.token_bytes(20)
            backup_codes = two_factor.enrol_with_secret(user, secret, self.backup_codes)
            out.append({
                "email": email, "password": password, "role": title, "api_token": token,
                "totp_secret": base64.b32encode(secret).decode(), "backup_codes": backup_codes,
            })  # fmt: skip
        return out

    def _delete_data(self, firm: Firm) -> None:
        """Three transactions. The rows that hold on to accounts (statements, billing, funding) go first and are
        committed: the ledger is deleted on the owner connection, whose foreign-key checks would
        otherwise wait for this connection's uncommitted deletes. A reset cut short can be run again."""
        with transaction.atomic():
            delete_statements()
            delete_billing()
            delete_funding()
        delete_portfolios(firm=firm)
        with transaction.atomic():
            HouseholdMember.objects.all().delete()
            Household.objects.all().delete()
            Group.objects.all().delete()
            Contact.objects.all().delete()
            transaction.on_commit(lambda: contacts_changed(firm_id=firm.pk))

    def _contacts(self, firm: Firm, count: int, seed: int) -> None:
        """Contacts, households and groups; the assistant's CRM scope is the "Top clients" group."""
        owner = User.objects.get(email=f"owner@{firm.slug}.example")
        groups = seed_contacts(firm=firm, count=count, seed=seed, owner=owner)
        assistant = User.objects.get(email=f"assistant@{firm.slug}.example")
        services.account_scope_set(
            actor=owner, user=assistant, scope=AccountScope.SELECTED, group_ids=frozenset({groups[0].pk})
        )
