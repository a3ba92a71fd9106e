"""Invoices of a posted fee run (issue #18, point 3): one per billing unit, as a white-branded PDF
kept on the recipient's contact record and emailed through the email service.

- **Billing unit.** A household (every posted line of its accounts), else a client's own accounts
  (the accounts whose primary owner they are), in one currency. The recipient is the household's
  head, else the primary owner. A unit is invoiced when this run moved money for it (a line posted
  a non-zero amount: a debit, or the refund of a correction); an account with neither household nor
  primary owner has no one to invoice and is listed on the run's page instead.
- **Numbers.** ``INV-<run>-<n>``: ``n`` is the unit's place in the run, ordered by its first line,
  so a job that runs again gives every unit the number it had.
- **The job** (``billing.invoices``, ``atomic=False``): each invoice is made (PDF rendered, stored
  with ``crm.documents.services.document_upload``, row saved) and mailed in a transaction of its
  own, so a worker that stops leaves every finished invoice committed, and running the job again
  (the sweeper, Retry, the button pressed twice) makes only what is missing.
- **Mailed once.** ``sent_at`` is set by one conditional UPDATE (``sent_at IS NULL``) in the
  transaction that queues the email, which the mail service delivers after commit: of any number
  of attempts, one mails the client. An invoice whose recipient has no email address is made, not
  sent, and says why (``not_sent``); pressing "Make and send" again after an address was added
  mails those, and only those.
- **The PDF in the email.** The email service has no attachments (``advisorportal.mail`` sends
  text, HTML and the firm's logo), so the email carries a download link made by the links kit
  (``advisorportal.links``, purpose ``billing.invoice_copy``): single-use, expiring after
  ``COPY_LINK_DAYS`` days, only its hash stored. The page it opens (``InvoiceCopyView``) changes
  nothing on GET (mail scanners open links); its Download button (POST) uses the link and sends the
  PDF. The firm keeps every invoice on the contact's documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Firm
from accounts.preferences import firm_date_format
from accounts.selectors import firm_branding
from advisorportal import formats
from advisorportal.jobs import services as jobs
from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.links import purposes
from advisorportal.links import services as links
from advisorportal.links.purposes import Purpose
from advisorportal.mail import services as mail
from advisorportal.mail import templates
from advisorportal.pdf import Branding, content_hash, render_pdf
from advisorportal.tenancy.context import require_firm_id
from billing import selectors as billing_selectors
from billing.models import FeeLine, FeeRun, Invoice, InvoiceBatch, RunStatus, Valuation
from crm.documents import services as documents
from crm.documents.models import Document
from crm.models import Contact, Household
from portfolios.models import AccountOwner, OwnerRole

INVOICE_JOB = "billing.invoices"
EMAIL_TEMPLATE = "billing.invoice"
COPY_PURPOSE = "billing.invoice_copy"
COPY_LINK_DAYS = 30
ZERO = Decimal(0)


def register_email_and_link() -> None:
    """The invoice email and the purpose of its download link (called from ``BillingConfig.ready``)."""
    templates.register(
        EMAIL_TEMPLATE, label="Fee invoice", subject="{{ invoice.number }}: your advisory fees, {{ invoice.period }}",
        html="billing/email/invoice.html", text="billing/email/invoice.txt",
    )  # fmt: skip
    purposes.register(Purpose(code=COPY_PURPOSE, label="Invoice download", expiry=timedelta(days=COPY_LINK_DAYS)))


@dataclass
class Unit:
    """The lines of one invoice: a household's, or one client's own accounts', in one currency."""

    household_id: int | None
    contact_id: int | None
    currency: str
    lines: list[FeeLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((ln.posted_amount or ZERO for ln in self.lines), ZERO)


@dataclass
class InvoicePlan:
    units: list[Unit]
    no_recipient: list[str]  # account numbers


def plan(run: FeeRun) -> InvoicePlan:
    """The run's billing units in the order that numbers them (reads only)."""
    lines = list(
        FeeLine.objects.filter(run=run, posted_amount__isnull=False)
        .select_related("account", "payer", "version__schedule")
        .order_by("id")
    )
    primary: dict[int, int] = {}
    for account_id, contact_id in (
        AccountOwner.objects.filter(account_id__in={ln.account_id for ln in lines}, role=OwnerRole.PRIMARY)
        .order_by("-id")
        .values_list("account_id", "contact_id")
    ):
        primary[account_id] = contact_id  # the earliest primary owner wins (ordered newest first)
    units: dict[tuple[str, int, str], Unit] = {}
    no_recipient: list[str] = []
    for line in lines:
        if line.household_id:
            key: tuple[str, int, str] = ("household", line.household_id, line.currency)
            unit = units.setdefault(key, Unit(line.household_id, None, line.currency))
        elif line.account_id in primary:
            key = ("contact", primary[line.account_id], line.currency)
            unit = units.setdefault(key, Unit(None, primary[line.account_id], line.currency))
        else:
            if line.posted_amount:
                no_recipient.append(line.account.number)
            continue
        unit.lines.append(line)
    invoiced = [u for u in units.values() if any(ln.posted_amount for ln in u.lines)]
    return InvoicePlan(invoiced, no_recipient)


# --- Starting -----------------------------------------------------------------------------------------


@transaction.atomic
def invoices_start(*, actor: Any, run: FeeRun) -> InvoiceBatch:
    """Make and send the invoices of a posted ``run`` in a background job. Idempotent: while a job
    is waiting or running it is the answer; afterwards a new job makes only the invoices missing and
    mails only those not mailed yet (an address added since), never one twice."""
    run = FeeRun.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.POSTED:
        raise ValidationError(
            {"run": f"{run.reference} is {run.get_status_display().lower()}; invoices are made once it is posted."}
        )
    batch = InvoiceBatch.objects.select_related("job").filter(run=run).first()
    if batch is None:
        batch = InvoiceBatch(run=run, requested_by=actor if getattr(actor, "pk", None) else None)
        batch.full_clean()
        batch.save()
    elif batch.job is not None and batch.job.active:
        return batch
    batch.job = jobs.job_create(actor=actor, kind=INVOICE_JOB, phase="Making invoices")
    batch.requested_by = actor if getattr(actor, "pk", None) else batch.requested_by
    batch.save(update_fields=["job", "requested_by"])
    return batch


# --- The job --------------------------------------------------------------------------------------------


def run_job(background: Job, progress: Progress) -> Outcome:
    """Each invoice made and mailed in its own transaction (resumable; see the module's doc)."""
    batch = InvoiceBatch.objects.select_related("run").get(job=background)
    run = batch.run
    if run.status != RunStatus.POSTED:
        return Outcome.failure(f"{run.reference} is {run.get_status_display().lower()}; no invoices were made.")
    progress.update(0, phase="Grouping the fee lines")
    found = plan(run)
    if batch.no_recipient != found.no_recipient:
        batch.no_recipient = found.no_recipient
        batch.save(update_fields=["no_recipient"])
    firm = Firm.objects.get(pk=require_firm_id())
    brand = firm_branding(firm=firm)
    date_format = firm_date_format(firm_id=firm.pk)
    actor = background.created_by
    households = {h.pk: h for h in Household.objects.filter(pk__in={u.household_id for u in found.units})}
    existing = {i.sequence: i for i in Invoice.objects.filter(run=run)}
    wanted = {h.head_id for h in households.values()} | {u.contact_id for u in found.units}
    wanted |= {i.contact_id for i in existing.values()}  # an invoice made stays with its recipient
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=wanted - {None})}
    progress.update(0, total=len(found.units), phase="Making and sending invoices")
    made = mailed = 0
    for sequence, unit in enumerate(found.units, start=1):
        invoice = existing.get(sequence)
        household = households.get(unit.household_id) if unit.household_id else None
        recipient = invoice.contact_id if invoice is not None else household.head_id if household else unit.contact_id
        contact = contacts.get(recipient or 0)
        if invoice is None:
            invoice = _make(run, unit, sequence, household, contact, brand, date_format, actor)
            made += 1
        if invoice.sent_at is None and _send(invoice, contact, actor, date_format):
            mailed += 1
        progress.update(sequence)
    unsent = Invoice.objects.filter(run=run, sent_at__isnull=True).count()
    note = f"{made} invoice{'s' if made != 1 else ''} made, {mailed} emailed."
    if unsent:
        note += f" {unsent} not sent (no email address)."
    return Outcome(message=note)


def _make(
    run: FeeRun,
    unit: Unit,
    sequence: int,
    household: Household | None,
    contact: Contact | None,
    brand: Branding,
    date_format: str,
    actor: Any,
) -> Invoice:
    assert contact is not None
    invoice = Invoice(
        run=run, number=f"INV-{run.pk}-{sequence}", sequence=sequence, household=household, contact=contact,
        recipient_name=contact.display_name[:200], recipient_email=contact.email, currency=unit.currency,
        total=unit.total, line_ids=[ln.pk for ln in unit.lines],
    )  # fmt: skip
    pdf = render_invoice(invoice=invoice, lines=unit.lines, brand=brand, date_format=date_format)
    invoice.content_hash = content_hash(pdf)
    try:
        with transaction.atomic():
            invoice.document = documents.document_upload(
                actor=actor, contact=contact, files=[(f"{invoice.number}.pdf", pdf)]
            )[0]
            invoice.full_clean(exclude=["document"])
            invoice.save()
    except (IntegrityError, ValidationError):
        if invoice.document is not None:  # its row is rolled back; the stored file goes too
            documents.documents_storage().delete(invoice.document.storage_key)
        found = Invoice.objects.filter(run=run, sequence=sequence).first()
        if found is None:
            raise
        return found  # another job made it at the same moment: theirs stands
    return invoice


def _send(invoice: Invoice, contact: Contact | None, actor: Any, date_format: str) -> bool:
    """Mail ``invoice`` to its recipient's address now, once: False when it has none (said on the
    invoice) or another attempt mailed it."""
    address = (contact.email if contact is not None else "").strip()
    if not address:
        reason = "Not sent: the recipient has no email address."
        if invoice.not_sent != reason:
            Invoice.objects.filter(pk=invoice.pk, sent_at__isnull=True).update(not_sent=reason)
            invoice.not_sent = reason
        return False
    with transaction.atomic():
        now = timezone.now()
        if not Invoice.objects.filter(pk=invoice.pk, sent_at__isnull=True).update(
            sent_at=now, recipient_email=address, not_sent=""
        ):
            return False  # mailed by another attempt
        issued = links.link_issue(
            purpose=COPY_PURPOSE, recipient_email=address, fingerprint=invoice.content_hash, subject=invoice,
            actor=actor, expires_in=timedelta(days=COPY_LINK_DAYS),
        )  # fmt: skip
        email = mail.email_send(
            to=address, template=EMAIL_TEMPLATE, context=_email_context(invoice, issued.token, date_format),
            contact_id=contact.pk if contact is not None else None, actor=actor,
        )  # fmt: skip
        Invoice.objects.filter(pk=invoice.pk).update(email=email)
        invoice.sent_at, invoice.recipient_email, invoice.not_sent, invoice.email = now, address, "", email
    return True


def _email_context(invoice: Invoice, token: str, date_format: str) -> dict[str, Any]:
    run = invoice.run
    payers = sorted({(ln.payer or ln.account).number for ln in invoice_lines(invoice)})
    return {
        "invoice": {
            "number": invoice.number,
            "recipient": invoice.recipient_name,
            "period": f"{formats.day(run.period_start, date_format)} to {formats.day(run.period_end, date_format)}",
            "total": formats.money(invoice.total, invoice.currency),
            "refund": invoice.total < 0,
            "accounts": ", ".join(formats.masked_digits(n[-4:]) for n in payers),
        },
        "download_url": settings.SITE_URL.rstrip("/") + reverse("billing:invoice-copy", args=[token]),
        "link_days": COPY_LINK_DAYS,
    }


# --- The PDF ----------------------------------------------------------------------------------------------


def invoice_lines(invoice: Invoice) -> list[FeeLine]:
    return list(
        FeeLine.objects.filter(pk__in=invoice.line_ids)
        .select_related("account", "payer", "version__schedule")
        .order_by("id")
    )


def _valuation(line: FeeLine) -> str:
    valued = line.details.get("valuation") or {}
    method = valued.get("method", "")
    label = Valuation(method).label if method in Valuation.values else "Value"
    if valued.get("from") and valued.get("to"):
        low, high = date.fromisoformat(valued["from"]), date.fromisoformat(valued["to"])
        if method == Valuation.PERIOD_END:
            return f"{label} ({formats.day(high)})"
        return f"{label}, {formats.day(low)} to {formats.day(high)}"
    return label


def render_invoice(*, invoice: Invoice, lines: list[FeeLine], brand: Branding, date_format: str) -> bytes:
    """The invoice's PDF in the firm's name and colours; dates in ``date_format``."""
    rows = []
    with formats.date_format_used(date_format):
        for line in lines:
            debited = line.payer or line.account
            rows.append({
                "line": line,
                "schedule": line.version.schedule.name if line.version else "",
                "valuation": _valuation(line),
                "debited_from": debited.number,
                "paid_by_other": line.payer_id is not None,
                "refund": (line.posted_amount or ZERO) < 0,
                "posted": abs(line.posted_amount or ZERO),
            })  # fmt: skip
    return render_pdf(
        template="billing/invoice_pdf.html",
        stylesheet="billing/invoice_pdf.css",
        context={
            "invoice": invoice,
            "run": invoice.run,
            "rows": rows,
            "contact": invoice.contact,
            "household": invoice.household,
            "total_refund": invoice.total < 0,
            "total": abs(invoice.total),
            "issued": timezone.localdate(),
        },
        branding=brand,
        title=f"Invoice {invoice.number} · {invoice.recipient_name}",
        date_format=date_format,
    )


# --- Reads -------------------------------------------------------------------------------------------------


def run_invoices(*, run: FeeRun, user: Any) -> list[Invoice]:
    """The run's invoices whose every account is in the user's Fee Administration scope."""
    found = list(Invoice.objects.filter(run=run).select_related("email").order_by("sequence"))
    if billing_selectors.whole_firm(user):
        return found
    accounts = _accounts_of(found)
    visible = set(
        billing_selectors.accounts(user=user).filter(pk__in=set(accounts.values())).values_list("pk", flat=True)
    )
    return [i for i in found if all(accounts[line] in visible for line in i.line_ids)]


def _accounts_of(found: list[Invoice]) -> dict[int, int]:
    ids = [line for invoice in found for line in invoice.line_ids]
    return dict(FeeLine.objects.filter(pk__in=ids).values_list("pk", "account_id"))


def visible_to(*, user: Any, invoice: Invoice) -> bool:
    if billing_selectors.whole_firm(user):
        return True
    accounts = set(_accounts_of([invoice]).values())
    return billing_selectors.accounts(user=user).filter(pk__in=accounts).count() == len(accounts)


def batch_of(*, run: FeeRun) -> InvoiceBatch | None:
    return InvoiceBatch.objects.select_related("job").filter(run=run).first()


def panel_context(*, run: FeeRun, user: Any) -> dict[str, Any]:
    """What ``billing/_invoices.html`` needs: the run, its invoices the user may see, the batch."""
    invoices = run_invoices(run=run, user=user)
    return {
        "run": run,
        "invoices": invoices,
        "invoice_batch": batch_of(run=run),
        "invoices_unsent": sum(1 for i in invoices if i.sent_at is None),
    }


def invoice_pdf(*, invoice: Invoice) -> bytes | None:
    """The PDF as it was made (from the contact's documents), or None if it was deleted there."""
    if invoice.document_id is None:
        return None
    document = Document.objects.filter(pk=invoice.document_id).first()
    if document is None:
        return None
    with documents.documents_storage().open(document.storage_key, "rb") as handle:
        data: bytes = handle.read()
    return data
