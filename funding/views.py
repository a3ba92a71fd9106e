"""Pages of money movement (issue #17): Transfer & Pay (the master account, the client accounts'
cash and what waits), a form per request kind, a request's page with its policy answer, timeline
and the actions its status allows, transaction history with its CSV, instruction files for the
custodian, a client's bank instructions and Full-Service enrolment, and the firm's funding
settings.

Every write goes through ``funding.services``; every create and transition POST carries a
one-time form key (``form_key``) through the floor's idempotency kit, so a double click acts once
and the second answer is the first one's page. A service's ``ValidationError`` is shown on the page
(status 400) and changes nothing. Objects come from the scoped selectors: another firm's or an
out-of-scope request, account or contact is a 404.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts import audit
from accounts.access import FirmScopedView
from accounts.policy import grant_scope, has_right
from accounts.rights import Right
from advisorportal.formats import date_style, day, minor_units, round_money
from advisorportal.hashing import sha256_hex
from advisorportal.idempotency.services import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    idempotent,
)
from advisorportal.redirects import safe_next
from advisorportal.tenancy.context import firm_stream
from advisorportal.tenancy.pagination import keyset_page
from crm.contact_io.exports import csv_safe
from crm.models import Contact
from crm.search import prefix_range, search_filter
from funding import selectors, services, states
from funding.forms import (
    PROGRAM_HELP,
    BankInstructionForm,
    CompleteForm,
    EnrollmentForm,
    HistoryFilterForm,
    ReasonForm,
    RequestForm,
    SettingsForm,
    initial_of,
)
from funding.models import (
    BankInstruction,
    Enrollment,
    FundingRequest,
    InstructionFile,
    InstructionStatus,
    Power,
    Program,
    RequestKind,
    Status,
)
from portfolios import selectors as book
from portfolios.models import AccountStatus, ClientAccount

PAGE_SIZE = 50
WAITING_SHOWN = 20
S = Status

# The URL's name of each kind a form creates (a bank instruction has its own form).
KIND_SLUGS = {
    "deposit": RequestKind.DEPOSIT,
    "withdrawal": RequestKind.WITHDRAWAL,
    "internal-transfer": RequestKind.INTERNAL_TRANSFER,
    "position-transfer": RequestKind.POSITION_TRANSFER,
}
KIND_INTRO = {
    RequestKind.DEPOSIT: "Tell the custodian that money is on its way into the account. Nothing leaves the "
    "account, so nobody needs to approve it; it is completed when the custodian reports the money arrived.",
    RequestKind.WITHDRAWAL: "Money out of the account to one of its owners' approved bank accounts. Its cash is "
    "held from the moment you send it, and never more than the available cash.",
    RequestKind.INTERNAL_TRANSFER: "Cash between two accounts of the firm with an owner in common. Money for "
    "another person is a withdrawal to that person's bank instruction.",
    RequestKind.POSITION_TRANSFER: "Shares of a security between two accounts of the firm with an owner in "
    "common; never more than the account holds and no other transfer is already taking.",
}

# Labels of the fields services name in their errors (the pages show labels, not internal names).
FIELD_LABELS = {
    "account": "Account", "to_account": "To account", "bank_instruction": "Bank account", "method": "Method",
    "amount": "Amount", "currency": "Currency", "security": "Security", "quantity": "Quantity", "memo": "Note",
    "kind": "Type", "client": "Client", "reason": "Reason", "custodian_reference": "Custodian's reference",
    "completed_on": "Completed on", "holder_name": "Account holder", "bank_name": "Bank",
    "account_kind": "Account type", "account_number": "Account number", "routing_number": "Routing number",
    "replaces": "Replaces", "program": "Service program", "cooling_off_days": "Cooling-off days",
    "dual_authorization_amount": "Two authorizers from", "dual_authorization_currency": "In currency",
    "link_expiry_hours": "Approval links expire after", "powers": "Powers", "form_reference": "Signed form",
}  # fmt: skip
NOT_LABELLED = {"status", "__all__"}


def error_texts(error: ValidationError) -> list[str]:
    """A service's error as sentences, each led by its field's label."""
    if not hasattr(error, "error_dict"):
        return [str(m) for m in error.messages]
    texts = []
    for name, messages_ in error.message_dict.items():
        for text in messages_:
            texts.append(text if name in NOT_LABELLED or name not in FIELD_LABELS else f"{FIELD_LABELS[name]}: {text}")
    return texts


def add_service_error(form: Any, error: ValidationError) -> None:
    """Put a service's error on the form: on its field where the form has it, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, [str(m) for m in error.messages])
        return
    for name, texts in error.message_dict.items():
        if name in form.fields:
            form.add_error(name, list(texts))
        else:
            label = FIELD_LABELS.get(name) if name not in NOT_LABELLED else None
            form.add_error(None, [f"{label}: {t}" if label else t for t in texts])


def once(*, scope: str, key: str, payload: Any, actor: Any, work: Callable[[], int]) -> tuple[int, bool]:
    """Run ``work`` (which returns the id of what it made or changed) once per form key: the same
    key again answers the first id (``True``: replayed). A key used with other values, or expired,
    is a ``ValidationError`` in words; an error in ``work`` rolls the key back with everything."""
    try:
        with idempotent(scope=scope, key=key, payload=payload, actor=actor, name="form key") as attempt:
            if attempt.replayed:
                return int(attempt.body["id"]), True
            result = work()
            attempt.store({"id": result})
            return result, False
    except IdempotencyKeyInvalid:
        raise ValidationError("This form has expired: reload the page and try again.") from None
    except IdempotencyKeyReused:
        raise ValidationError("This form was already sent with other values: reload the page to start again.") from None
    except IdempotencyKeyInProgress:
        raise ValidationError("This form is still being sent: wait a moment, then reload the page.") from None


def form_key() -> str:
    return uuid.uuid4().hex


class FundingPage(FirmScopedView, TemplateView):
    """A page of the Funding section: its sub-navigation knows what the user may open."""

    required_right: ClassVar[Right | str] = Right.FUNDING
    nav: ClassVar[str] = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            funding_nav=self.nav,
            is_authorizer=has_right(self.user, Right.FUNDING_AUTHORIZER),
            can_manage=has_right(self.user, Right.USER_MANAGEMENT),
        )
        return context

    def request_or_404(self, pk: Any) -> FundingRequest:
        try:
            return selectors.request_get(user=self.user, pk=int(pk))
        except (FundingRequest.DoesNotExist, ValueError, TypeError):
            raise Http404("No such request.") from None

    def account_or_404(self, pk: Any) -> ClientAccount:
        try:
            return selectors.accounts_in_scope(user=self.user).get(pk=int(pk))
        except (ClientAccount.DoesNotExist, ValueError, TypeError):
            raise Http404("No such account.") from None

    def contact_or_404(self, pk: Any) -> Contact:
        try:
            return selectors.contacts_in_scope(user=self.user).get(pk=int(pk))
        except (Contact.DoesNotExist, ValueError, TypeError):
            raise Http404("No such contact.") from None


def _accounts_matching(accounts: QuerySet[ClientAccount], q: str) -> QuerySet[ClientAccount]:
    """Accounts whose number or title starts with ``q`` (index range scans, as the accounts list)."""
    q = q.strip()
    if not q:
        return accounts
    return accounts.filter(prefix_range("number", q.upper()) | prefix_range("title_key", q.lower()))


# --- Transfer & Pay ---------------------------------------------------------------------------------


class TransferPayView(FundingPage):
    template_name = "funding/transfer_pay.html"
    nav = "transfer"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user, q = self.user, self.request.GET.get("q", "").strip()[:100]
        accounts = _accounts_matching(selectors.accounts_in_scope(user=user).filter(status=AccountStatus.OPEN), q)
        page = keyset_page(accounts, keys=("number", "id"), after=self.request.GET.get("after", ""), size=PAGE_SIZE)
        masters = list(book.master_accounts(user=user, right=Right.FUNDING))
        cash = book.cash_summaries(accounts=[*page.rows, *masters])
        for account in [*page.rows, *masters]:
            account.cash_rows = cash[account.pk]  # type: ignore[attr-defined]
        waiting = selectors.waiting(user=user, limit=WAITING_SHOWN + 1)
        context.update(
            q=q,
            page=page,
            masters=masters,
            waiting=waiting[:WAITING_SHOWN],
            more_waiting=len(waiting) > WAITING_SHOWN,
            kinds=[(slug, RequestKind(kind).label) for slug, kind in KIND_SLUGS.items()],
        )
        return context


# --- New request and edit ---------------------------------------------------------------------------


class RequestNewView(FundingPage):
    """``?account=<pk>`` shows the kind's form for that account; without it, the page first asks
    which account (a number or title search)."""

    template_name = "funding/request_form.html"
    nav = "transfer"
    slug: str = ""

    @property
    def kind(self) -> str:
        return KIND_SLUGS[self.slug]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.GET.get("account"):
            return self.pick_account()
        account = self.account_or_404(request.GET["account"])
        return self.show(account, RequestForm(kind=self.kind, account=account, user=self.user))

    def pick_account(self) -> HttpResponse:
        q = self.request.GET.get("find", "").strip()[:100]
        found: list[ClientAccount] = []
        if q:
            open_accounts = selectors.accounts_in_scope(user=self.user).filter(status=AccountStatus.OPEN)
            found = list(_accounts_matching(open_accounts, q).order_by("number")[:20])
        context = self.get_context_data(kind_label=RequestKind(self.kind).label, slug=self.slug, find=q, found=found)
        return render(self.request, "funding/request_account.html", context)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        account = self.account_or_404(request.POST.get("account"))
        form = RequestForm(request.POST, kind=self.kind, account=account, user=self.user)
        if not form.is_valid():
            return self.show(account, form, status=400)
        payload = {"kind": self.kind, "account": account.pk, **form.payload()}

        def create() -> int:
            return services.request_create(actor=self.user, kind=self.kind, account=account, **form.service_fields()).pk

        try:
            pk, replayed = once(
                scope="funding.page.request_create", key=request.POST.get("form_key", ""), payload=payload,
                actor=self.user, work=create,
            )  # fmt: skip
        except ValidationError as error:
            add_service_error(form, error)
            return self.show(account, form, status=400)
        if replayed:
            messages.info(request, "This form was already sent: here is the request it created.")
        else:
            messages.success(request, "Saved as a draft. Check it, then send it on.")
        return redirect("funding:request", pk=pk)

    def show(self, account: ClientAccount, form: RequestForm, *, status: int = 200) -> HttpResponse:
        context = self.get_context_data(
            account=account,
            form=form,
            kind=self.kind,
            kind_label=RequestKind(self.kind).label,
            intro=KIND_INTRO[RequestKind(self.kind)],
            cash_rows=book.cash_summary(account=account),
            form_key=form_key(),
            action=reverse(f"funding:new-{self.slug}"),
        )
        return render(self.request, self.template_name, context, status=status)


class RequestEditView(FundingPage):
    """Change a draft or a request awaiting its client (it goes back to draft; earlier approval
    links stop working)."""

    template_name = "funding/request_form.html"
    nav = "transfer"

    def editable(self, pk: Any) -> FundingRequest:
        request = self.request_or_404(pk)
        if request.kind == RequestKind.BANK_INSTRUCTION:
            raise Http404("A bank instruction is changed by a new one.")
        return request

    def form(self, request: FundingRequest, data: Any = None) -> RequestForm:
        assert request.account is not None
        return RequestForm(data, kind=request.kind, account=request.account, user=self.user,
                           initial=initial_of(request))  # fmt: skip

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:  # type: ignore[override]
        funding_request = self.editable(pk)
        return self.show(funding_request, self.form(funding_request))

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        funding_request = self.editable(pk)
        form = self.form(funding_request, request.POST)
        if not form.is_valid():
            return self.show(funding_request, form, status=400)
        payload = {"request": funding_request.pk, "version": funding_request.version, **form.payload()}

        def edit() -> int:
            return services.request_edit(actor=self.user, request=funding_request, **form.service_fields()).pk

        try:
            _, replayed = once(
                scope="funding.page.request_edit", key=request.POST.get("form_key", ""), payload=payload,
                actor=self.user, work=edit,
            )  # fmt: skip
        except ValidationError as error:
            add_service_error(form, error)
            return self.show(funding_request, form, status=400)
        if not replayed:
            messages.success(request, "Saved. The request is a draft again: send it on when it is right.")
        return redirect("funding:request", pk=funding_request.pk)

    def show(self, funding_request: FundingRequest, form: RequestForm, *, status: int = 200) -> HttpResponse:
        assert funding_request.account is not None
        context = self.get_context_data(
            account=funding_request.account,
            form=form,
            kind=funding_request.kind,
            kind_label=funding_request.get_kind_display(),
            editing=funding_request,
            intro=(
                "Any change voids the approval links sent for it: the request goes back to draft and is sent again."
                if funding_request.status == S.AWAITING_CLIENT
                else ""
            ),
            cash_rows=book.cash_summary(account=funding_request.account),
            form_key=form_key(),
            action=reverse("funding:request-edit", args=[funding_request.pk]),
        )
        return render(self.request, self.template_name, context, status=status)


# --- A request's page and its actions ----------------------------------------------------------------

# The page's actions: (URL name, label, needs a reason, destructive: confirmed first).
ACTIONS = {
    "send": ("Send", False, False),
    "resend": ("Re-send the approval email", False, False),
    "approve-on-behalf": ("Approve on the client's behalf", True, False),
    "authorize": ("Authorize", False, False),
    "reject": ("Reject", True, True),
    "cancel": ("Cancel the request", True, True),
    "complete": ("Mark completed", False, False),
}
AUTHORIZER_ACTIONS = {"authorize", "reject", "complete"}


def available_actions(request: FundingRequest, user: Any, decision: Any) -> tuple[list[str], list[str]]:
    """The actions this user may take now (by the one table of moves, the policy and maker-checker),
    and sentences saying why others are not offered."""
    status, shown, notes = request.status, [], []
    moves = set(states.actions_from(status))
    authorizer = has_right(user, Right.FUNDING_AUTHORIZER)
    if "send" in moves:
        shown.append("send")
    if status == S.AWAITING_CLIENT:
        shown.append("resend")
        if decision is not None and decision.advisor_may_approve:
            shown.append("approve-on-behalf")
        elif decision is not None:
            notes.append("The service program does not let the advisor approve this for the client: the client "
                         "approves it from the emailed link.")  # fmt: skip
    if "authorize" in moves:
        mine = request.authorizations.filter(user=user, version=request.version).exists()
        if not authorizer:
            notes.append("Authorizing or rejecting needs the Funding Authorizer right.")
        elif request.created_by_id == user.pk:
            notes.append("You requested this, so another Funding Authorizer authorizes or rejects it (maker-checker).")
        elif mine:
            notes.append("You have authorized it; another Funding Authorizer must authorize it too.")
            shown.append("reject")
        else:
            shown += ["authorize", "reject"]
    if "complete" in moves:
        if authorizer:
            shown.append("complete")
        else:
            notes.append("Marking it completed needs the Funding Authorizer right.")
    if "cancel" in moves:
        if status == S.SUBMITTED and request.instruction_file_id is not None:
            notes.append(f"It went to the custodian in instruction file {request.instruction_file_id}: to stop it, "
                         "ask the custodian; it can no longer be cancelled here.")  # fmt: skip
        else:
            shown.append("cancel")
    return shown, notes


class RequestDetailView(FundingPage):
    template_name = "funding/request_detail.html"
    nav = "transfer"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = kwargs.get("funding_request") or self.request_or_404(kwargs["pk"])
        try:
            decision, decision_error = services.decision(request), ""
        except ValidationError as error:
            decision, decision_error = None, " ".join(error_texts(error))
        shown, notes = available_actions(request, self.user, decision)
        authorizations = list(request.authorizations.select_related("user").order_by("at", "id"))
        events = list(request.events.select_related("actor").order_by("at", "id"))
        for event in events:
            event.label = states.ACTION_LABELS.get(event.action, event.action)
            event.from_label = S(event.from_status).label if event.from_status else ""
            event.to_label = S(event.to_status).label if event.to_status else ""
        context.update(
            r=request,
            described=services.describe(request),
            decision=decision,
            decision_error=decision_error,
            actions=[(name, *ACTIONS[name]) for name in shown],
            notes=notes,
            editable=request.kind != RequestKind.BANK_INSTRUCTION and request.status in (S.DRAFT, S.AWAITING_CLIENT),
            authorizations=authorizations,
            current_authorizations=sum(1 for a in authorizations if a.version == request.version),
            events=events,
            hold=request.hold,
            form_key=form_key(),
            complete_form=kwargs.get("complete_form") or CompleteForm(initial={"completed_on": timezone.localdate()}),
            errors=kwargs.get("errors", []),
            failed_action=kwargs.get("failed_action", ""),
            reason_value=kwargs.get("reason_value", ""),
            today=timezone.localdate(),
            open_links=request.status == S.AWAITING_CLIENT and selectors.open_links(request),
        )
        return context


class RequestActionView(FundingPage):
    """One action of a request's page (POST only); the answer is the request's page."""

    http_method_names = ["post"]
    action: str = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        funding_request = self.request_or_404(pk)
        action, user = self.action, self.user
        if action in AUTHORIZER_ACTIONS and not has_right(user, Right.FUNDING_AUTHORIZER):
            raise PermissionDenied
        post = request.POST
        payload: dict[str, Any] = {"request": funding_request.pk, "version": funding_request.version, "action": action}
        complete_form = None
        work: Callable[[], int]
        if action == "complete":
            complete_form = CompleteForm(post)
            if not complete_form.is_valid():
                return self.refused(funding_request, [], complete_form=complete_form)
            data = complete_form.cleaned_data
            payload.update(reference=data["custodian_reference"], on=data["completed_on"].isoformat())

            def work() -> int:
                return services.request_complete(actor=user, request=funding_request, custodian_reference=data[
                    "custodian_reference"], completed_on=data["completed_on"]).pk  # fmt: skip
        else:
            reason = post.get("reason", "").strip()
            needs_reason = ACTIONS[action][1]
            if needs_reason:
                form = ReasonForm(post)
                if not form.is_valid():
                    return self.refused(funding_request, ["Reason: say why (it goes into the request's timeline)."])
                payload["reason"] = reason
            work = self.work_for(funding_request, reason)
        try:
            _, replayed = once(
                scope=f"funding.page.{action}", key=post.get("form_key", ""), payload=payload, actor=user, work=work
            )
        except ValidationError as error:
            return self.refused(funding_request, error_texts(error), complete_form=complete_form)
        if replayed:
            messages.info(request, "This was already done (the form was sent twice): nothing more happened.")
        else:
            messages.success(request, self.done_message(funding_request.pk))
        # Back to where the form was (Pending items' buttons carry ``next``), else the request's page.
        return redirect(safe_next(request, reverse("funding:request", args=[funding_request.pk])))

    def work_for(self, funding_request: FundingRequest, reason: str) -> Callable[[], int]:
        user, action = self.user, self.action
        calls: dict[str, Callable[[], Any]] = {
            "send": lambda: services.request_send(actor=user, request=funding_request),
            "resend": lambda: services.request_resend(actor=user, request=funding_request),
            "approve-on-behalf": lambda: services.request_approve_on_behalf(
                actor=user, request=funding_request, reason=reason
            ),
            "authorize": lambda: services.request_authorize(actor=user, request=funding_request),
            "reject": lambda: services.request_reject(actor=user, request=funding_request, reason=reason),
            "cancel": lambda: services.request_cancel(actor=user, request=funding_request, reason=reason),
        }

        def work() -> int:
            calls[action]()
            return funding_request.pk

        return work

    def done_message(self, pk: int) -> str:
        request = self.request_or_404(pk)
        status = request.status
        if self.action == "send":
            if status == S.AWAITING_CLIENT:
                return f"Sent: {request.client} gets an email to approve it."
            if status == S.AWAITING_AUTHORIZER:
                return "Sent to the Funding Authorizers."
            return "Submitted: it goes to the custodian in the next instruction file."
        if self.action == "resend":
            return f"{request.reference}: a new approval email went to {request.client}; earlier links stop working."
        if self.action == "authorize":
            if status == S.AWAITING_AUTHORIZER:
                return "Authorized. Another Funding Authorizer must authorize it too."
            if status == S.COMPLETED:
                return "Authorized: the bank instruction is active."
            return "Authorized: it goes to the custodian in the next instruction file."
        return {
            "approve-on-behalf": "Approved on the client's behalf.",
            "reject": "Rejected. Its hold, if any, was released.",
            "cancel": "Cancelled. Its hold, if any, was released.",
            "complete": "Marked completed.",
        }[self.action]

    def refused(
        self, funding_request: FundingRequest, errors: list[str], *, complete_form: CompleteForm | None = None
    ) -> HttpResponse:
        view = RequestDetailView()
        view.setup(self.request, pk=funding_request.pk)
        fresh = self.request_or_404(funding_request.pk)  # as it is now (the service may have refused a stale page)
        context = view.get_context_data(
            pk=fresh.pk, funding_request=fresh, errors=errors or ["The form has errors: see below."],
            complete_form=complete_form, failed_action=self.action, reason_value=self.request.POST.get("reason", ""),
        )  # fmt: skip
        return render(self.request, view.template_name, context, status=400)


# --- Transaction history ---------------------------------------------------------------------------------


class HistoryView(FundingPage):
    template_name = "funding/history.html"
    nav = "history"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = HistoryFilterForm(self.request.GET or None)
        filters = form.filters()
        rows = selectors.history(user=self.user, **filters)
        page = keyset_page(rows, keys=("-created_at", "-id"), after=self.request.GET.get("after", ""), size=PAGE_SIZE)
        query = self.request.GET.copy()
        query.pop("after", None)
        context.update(
            form=form,
            page=page,
            query=query.urlencode(),
            filtered=bool(filters),
            default_from=timezone.localdate() - timedelta(days=90),
            default_window=not filters.get("date_from"),
        )
        return context


HISTORY_HEADER = [
    "Reference", "Created", "Type", "Method", "Status", "From account", "To account", "Client", "Amount", "Currency",
    "Symbol", "Quantity", "Note", "Requested by", "Completed on", "Custodian reference",
]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def history_rows(rows: QuerySet[FundingRequest], *, date_format: str) -> Iterator[str]:
    """The history as CSV lines: dates in ``date_format`` (read in the view: the body is streamed
    after it returned), amounts in their currency's minor unit without separators."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HISTORY_HEADER)  # a BOM, so Excel reads UTF-8
    for r in rows.iterator(chunk_size=2000):
        amount = "" if r.amount is None else f"{r.amount:.{minor_units(r.currency)}f}"
        yield writer.writerow([csv_safe(v) for v in (
            r.reference, day(r.created_at, date_format), r.get_kind_display(), r.get_method_display(),
            r.get_status_display(), r.account.number if r.account else "", r.to_account.number if r.to_account else "",
            str(r.client), amount, r.currency, r.security.symbol if r.security else "",
            "" if r.quantity is None else f"{r.quantity.normalize():f}", r.memo, r.created_by.full_name,
            day(r.completed_on, date_format) if r.completed_on else "", r.custodian_reference,
        )])  # fmt: skip


class HistoryCsvView(FundingPage):
    """The filtered history as CSV (streamed), after a fresh second factor, like the contact exports."""

    step_up = True

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        form = HistoryFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            text = "; ".join(
                f"{form.fields[n].label}: {' '.join(str(t) for t in e)}"
                for n, e in form.errors.items()
                if n in form.fields
            )
            return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
        rows = selectors.history(user=self.user, **form.filters())
        audit.record_read(what="funding transaction history CSV export", details=dict(request.GET.items()))
        body = firm_stream(self.user.firm_id, history_rows(rows, date_format=date_style().code))
        response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="funding-history-{timezone.localdate()}.csv"'
        return response


# --- Instruction files -------------------------------------------------------------------------------------

INSTRUCTION_COLUMN_HELP = {
    "reference": "The request's number (FR-…). The custodian reports the movement under it; the custodian "
    "import completes the request by it.",
    "type": "deposit, withdrawal, internal_transfer or position_transfer.",
    "method": "ach, wire, check (deposits), or internal (transfers).",
    "from_account": "The account money or positions leave; for a deposit, the account it arrives in.",
    "to_account": "The account a transfer goes to; empty otherwise.",
    "amount": "The amount in its currency's minor unit, without thousands separators (2500.00; 1235 JPY); "
    "empty for a position transfer.",
    "currency": "ISO 4217 code (a position transfer: the security's currency).",
    "symbol": "The security of a position transfer.",
    "quantity": "The number of shares of a position transfer.",
    "bank_holder": "A withdrawal's bank account holder.",
    "bank_name": "A withdrawal's bank.",
    "bank_account_type": "checking or savings.",
    "bank_routing_number": "The 9-digit ABA routing number, in clear.",
    "bank_account_number": "The bank account number, in clear.",
    "memo": "The request's note; one that starts with = + - or @ is prefixed with ' so a spreadsheet never runs it.",
}


def require_full_scope(user: Any) -> None:
    """An instruction file holds every submitted request of the firm: its pages need the Funding
    Authorizer right for every client, not a selection."""
    allowed, grant_id = grant_scope(user, Right.FUNDING_AUTHORIZER)
    if not allowed or grant_id is not None:
        raise PermissionDenied


def instruction_file_content(record: InstructionFile) -> bytes:
    """The file as it was made, rebuilt from its requests (the same bytes: checked by its hash)."""
    requests = list(
        FundingRequest.objects.filter(instruction_file=record)
        .select_related("account", "to_account", "bank_instruction", "security")
        .order_by("pk")
    )
    content = services.instruction_csv(requests)
    if sha256_hex(content) != record.content_hash:
        raise ValidationError(f"Instruction file {record.pk} no longer matches what was downloaded; ask support.")
    return content


def csv_download(content: bytes, record: InstructionFile) -> HttpResponse:
    audit.record_read(
        what="funding instruction file (bank numbers in clear)", obj=record, details={"rows": record.rows}
    )
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="instruction-file-{record.pk}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class InstructionFilesView(FundingPage):
    """The instruction files made so far and the button that makes the next one (every submitted
    request not in a file yet) and downloads it. Making or downloading one needs a fresh second
    factor: the file holds bank numbers in clear."""

    required_right = Right.FUNDING_AUTHORIZER
    template_name = "funding/instruction_files.html"
    nav = "files"
    LIMIT = 50

    def needs_step_up(self, request: HttpRequest) -> bool:
        return request.method == "POST"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require_full_scope(self.user)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            files=list(
                InstructionFile.objects.select_related("created_by").order_by("-created_at", "-id")[: self.LIMIT]
            ),
            waiting=FundingRequest.objects.filter(status=S.SUBMITTED, instruction_file__isnull=True).count(),
            columns=[(name, INSTRUCTION_COLUMN_HELP.get(name, "")) for name in services.INSTRUCTION_COLUMNS],
            form_key=form_key(),
            errors=kwargs.get("errors", []),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        require_full_scope(self.user)
        made: dict[str, bytes] = {}

        def create() -> int:
            record, content = services.instruction_file_create(actor=self.user)
            made["content"] = content
            return record.pk

        try:
            pk, _replayed = once(
                scope="funding.page.instruction_file", key=request.POST.get("form_key", ""), payload={},
                actor=self.user, work=create,
            )  # fmt: skip
            record = InstructionFile.objects.get(pk=pk)
            content = made.get("content") or instruction_file_content(record)
        except ValidationError as error:
            context = self.get_context_data(errors=error_texts(error))
            return self.render_to_response(context, status=400)
        return csv_download(content, record)


class InstructionFileDownloadView(FundingPage):
    required_right = Right.FUNDING_AUTHORIZER
    step_up = True

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:  # type: ignore[override]
        require_full_scope(self.user)
        record = InstructionFile.objects.filter(pk=pk).first()
        if record is None:
            raise Http404("No such instruction file.")
        try:
            content = instruction_file_content(record)
        except ValidationError as error:
            return HttpResponse(" ".join(error.messages), status=409, content_type="text/plain; charset=utf-8")
        return csv_download(content, record)


# --- A client's bank instructions -----------------------------------------------------------------------------


class BankInstructionsView(FundingPage):
    """A client's bank instructions, with masked numbers only."""

    template_name = "funding/bank_instructions.html"
    nav = "transfer"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        contact = self.contact_or_404(kwargs["pk"])
        instructions = list(
            selectors.bank_instructions(contact=contact, include_inactive=True).select_related("replaces")
        )
        requests = selectors.requests_in_scope(user=self.user).filter(kind=RequestKind.BANK_INSTRUCTION, client=contact)
        by_instruction = {r.bank_instruction_id: r for r in requests.order_by("created_at")}
        now = timezone.now()
        for instruction in instructions:
            instruction.request = by_instruction.get(instruction.pk)  # type: ignore[attr-defined]
            usable = selectors.instruction_usable_from(instruction)
            instruction.usable_from = usable if usable and usable > now else None  # type: ignore[attr-defined]
        context.update(
            contact=contact,
            instructions=instructions,
            active=InstructionStatus.ACTIVE,
            enrollment=selectors.enrollment_of(contact),
            program=selectors.funding_settings().get_program_display(),
        )
        return context


class BankInstructionNewView(FundingPage):
    """Add a bank instruction, or change one (``?replaces=<id>``): saved awaiting approval, with a
    request in draft that approves it. Needs a fresh second factor."""

    template_name = "funding/bank_instruction_form.html"
    nav = "transfer"
    step_up = True

    def replaces(self, contact: Contact, pk: Any) -> Any:
        if not pk:
            return None
        try:
            return selectors.bank_instructions(contact=contact).get(pk=int(pk))
        except (BankInstruction.DoesNotExist, ValueError, TypeError):
            raise Http404("No such active bank instruction.") from None

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:  # type: ignore[override]
        contact = self.contact_or_404(pk)
        replaces = self.replaces(contact, request.GET.get("replaces"))
        initial = {"holder_name": str(contact), "currency": "USD"}
        if replaces is not None:
            initial.update(holder_name=replaces.holder_name, bank_name=replaces.bank_name,
                           account_kind=replaces.account_kind, currency=replaces.currency)  # fmt: skip
        return self.show(contact, replaces, BankInstructionForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        contact = self.contact_or_404(pk)
        replaces = self.replaces(contact, request.POST.get("replaces"))
        form = BankInstructionForm(request.POST)
        if not form.is_valid():
            return self.show(contact, replaces, form, status=400)

        def create() -> int:
            return services.bank_instruction_request(
                actor=self.user, contact=contact, replaces=replaces, **form.cleaned_data
            ).pk

        try:
            request_pk, replayed = once(
                scope="funding.page.bank_instruction", key=request.POST.get("form_key", ""),
                payload=form.payload(contact.pk, replaces), actor=self.user, work=create,
            )  # fmt: skip
        except ValidationError as error:
            add_service_error(form, error)
            return self.show(contact, replaces, form, status=400)
        if not replayed:
            messages.success(
                request,
                "Saved awaiting approval. Send the request below: the bank instruction is active once approved.",
            )
        return redirect("funding:request", pk=request_pk)

    def show(self, contact: Contact, replaces: Any, form: BankInstructionForm, *, status: int = 200) -> HttpResponse:
        context = self.get_context_data(contact=contact, replaces=replaces, form=form, form_key=form_key(),
                                        cooling_off=selectors.funding_settings().cooling_off_days)  # fmt: skip
        return render(self.request, self.template_name, context, status=status)


# --- Settings and Full-Service enrolments -------------------------------------------------------------------------


def power_labels(enrollment: Enrollment) -> list[str]:
    return [Power(p).label for p in enrollment.powers if p in Power.values]


class SettingsView(FundingPage):
    """The firm's funding policy: everyone with Funding reads it, User Management changes it."""

    template_name = "funding/settings.html"
    nav = "settings"
    ENROLMENTS_SHOWN = 100

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        current = selectors.funding_settings()
        initial = {name: getattr(current, name) for name in SettingsForm.base_fields}
        initial["dual_authorization_amount"] = round_money(
            Decimal(current.dual_authorization_amount), current.dual_authorization_currency
        )
        form = kwargs.get("form") or SettingsForm(initial=initial)
        contacts = selectors.contacts_in_scope(user=self.user)
        enrolments = list(
            Enrollment.objects.filter(contact__in=contacts.values("pk"))
            .select_related("contact", "enrolled_by")
            .order_by("contact__last_name", "contact__first_name", "pk")[: self.ENROLMENTS_SHOWN + 1]
        )
        for enrolment in enrolments:
            enrolment.power_labels = power_labels(enrolment)
        find = self.request.GET.get("client", "").strip()[:100]
        found: list[Contact] = []
        if find:
            condition = search_filter(find)
            if condition is not None:
                found = list(contacts.filter(condition).order_by("last_name", "first_name", "pk")[:10])
        context.update(
            current=current,
            form=form,
            programs=[(value, label, PROGRAM_HELP[Program(value)]) for value, label in Program.choices],
            enrolments=enrolments[: self.ENROLMENTS_SHOWN],
            more_enrolments=len(enrolments) > self.ENROLMENTS_SHOWN,
            find=find,
            found=found,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not has_right(self.user, Right.USER_MANAGEMENT):
            raise PermissionDenied
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                services.settings_update(actor=self.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request, "Funding settings saved. Requests already sent keep what they were sent with."
                )
                return redirect("funding:settings")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class EnrollmentView(FundingPage):
    """A client's Full-Service enrolment: the powers granted on a signed form. User Management
    changes it (as the firm's settings)."""

    template_name = "funding/enrollment.html"
    nav = "settings"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        contact = kwargs.get("contact") or self.contact_or_404(kwargs["pk"])
        enrollment = selectors.enrollment_of(contact)
        if enrollment is not None:
            enrollment.power_labels = power_labels(enrollment)  # type: ignore[attr-defined]
        form = kwargs.get("form") or EnrollmentForm(
            initial={"powers": enrollment.powers, "form_reference": enrollment.form_reference} if enrollment else None
        )
        context.update(
            contact=contact,
            enrollment=enrollment,
            form=form,
            program=selectors.funding_settings().program,
            full_service=Program.FULL_SERVICE,
            full_service_help=PROGRAM_HELP[Program.FULL_SERVICE],
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        if not has_right(self.user, Right.USER_MANAGEMENT):
            raise PermissionDenied
        contact = self.contact_or_404(pk)
        if request.POST.get("action") == "end":
            if services.enrollment_end(actor=self.user, contact=contact):
                messages.success(request, f"{contact} is no longer enrolled in Full-Service.")
            return redirect("funding:enrollment", pk=contact.pk)
        form = EnrollmentForm(request.POST)
        if form.is_valid():
            try:
                services.enrollment_set(actor=self.user, contact=contact, **form.cleaned_data)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{contact}'s Full-Service enrolment is saved.")
                return redirect("funding:enrollment", pk=contact.pk)
        return self.render_to_response(self.get_context_data(contact=contact, form=form), status=400)
