"""Time a bulk email to N contacts of a firm: from the start (as the send button does it) until the
job, run as the Celery worker runs it, has rendered every message and handed it to the file
backend. Prints one JSON line. Used by ``make bench`` (scenario ``email_bulk_10k``) and by hand:

    manage.py bench_bulk_email harbor 10000

The firm's rate limit (``MAIL_RATE_PER_MINUTE``, 600 a minute by default) is lifted for the run:
the figure is the product's own cost, not the allowance a firm chooses. The emails are written
to a temporary directory that is removed afterwards; the bulk email and its rows stay (a marketing
email "Bench newsletter" of the firm's owner), as a real one would.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from accounts.models import Firm, User
from advisorportal.tenancy.context import firm_scope

BODY = """Dear {{ contact.first_name }},

Markets moved this quarter; here is what it means for your plan, and what we are watching next.

{{ advisor.signature }}"""


class Command(BaseCommand):
    help = "Time a bulk email to N contacts of a firm, rendered and handed to the file backend."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("firm")
        parser.add_argument("contacts", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        from advisorportal.jobs import services as job_services
        from advisorportal.mail import message_templates
        from advisorportal.mail.models import EmailStatus, MessageTemplate, OutgoingEmail
        from crm import selectors as crm_selectors
        from crm.agenda import bulk_email
        from crm.models import Contact

        settings.DEBUG = False  # as the worker runs: no SQL text kept for connection.queries
        settings.MAIL_RATE_PER_MINUTE = 0
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm {options['firm']!r}.")
        with tempfile.TemporaryDirectory(prefix="bench-mail-") as mail_dir:
            settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
            settings.EMAIL_FILE_PATH = mail_dir
            with firm_scope(firm):
                owner = User.objects.filter(firm=firm, is_active=True).order_by("id").first()
                ids = list(
                    Contact.objects.exclude(email="").order_by("id").values_list("id", flat=True)[: options["contacts"]]
                )
                template = MessageTemplate.objects.filter(name="Bench newsletter").first()
                if template is None:
                    template = message_templates.message_template_save(
                        actor=owner, sample=bulk_email.SAMPLE,
                        data={"name": "Bench newsletter", "category": "marketing",
                              "subject": "Your quarter, {{ contact.first_name }}", "body": BODY},
                    )  # fmt: skip
                started = time.perf_counter()
                selection = crm_selectors.contact_selection(user=owner, contacts=ids)
                email = bulk_email.bulk_email_start(actor=owner, template=template, selection=selection)
                assert email.job_id is not None
                status = job_services.job_execute(job_id=email.job_id)  # what the Celery task runs
                seconds = time.perf_counter() - started
                statuses = {
                    row["status"]: row["n"]
                    for row in OutgoingEmail.objects.filter(bulk=email)
                    .values("status")
                    .annotate(n=Count("id"))
                    .order_by()
                }
            files = list(Path(mail_dir).glob("*.log"))
            written = sum(path.read_text(errors="replace").count("\nSubject: ") for path in files)
        figures = {
            "contacts": len(ids),
            "status": status,
            "sent": statuses.get(EmailStatus.SENT, 0),
            "skipped": statuses.get(EmailStatus.SKIPPED, 0),
            "failed": statuses.get(EmailStatus.FAILED, 0),
            "written": written,
            "seconds": round(seconds, 2),
        }
        self.stdout.write(json.dumps(figures))
