"""Pages of statements and report definitions, under /reports/statements/ (Activity Statements;
a performance report also needs PortfolioAnalyst). Another firm's statement, definition or
account, one outside the user's scope and a missing one are the same 404.

- ``/reports/statements/``: make a statement of an account or a household (made by a worker), and
  the latest ones; ``<id>/`` its progress and downloads (PDF as kept, CSV, Excel of the same figures).
- ``contacts/<id>/``: the contact's Reports tab: the statements kept for them.
- ``definitions/``: report definitions; ``definitions/<id>/``: edit, Run now, runs with their
  progress, deliveries.
- ``disclosures/``: the text every statement prints.
- ``copy/<token>/``: no login; the page a delivery email links to (GET changes nothing; its
  Download button, a POST, uses the single-use link and sends the PDF).
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django.views.generic import TemplateView

from accounts import audit
from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal.formats import date_style
from advisorportal.links.services import NOT_VALID, LinkNotValid, link_consume, link_resolve, link_scope
from advisorportal.mail import branding
from crm.models import Contact
from crm.scope import scope_contacts
from portfolios import selectors as book
from reports.selectors import SubjectNotFound
from reports.statements import delivery, rendering, selectors, services
from reports.statements.forms import DefinitionForm, DisclosuresForm, StatementForm
from reports.statements.models import ReportDefinition, Statement

RECENT = 50


def _statement_or_404(user: Any, pk: Any) -> Statement:
    try:
        return selectors.statement_get(user=user, pk=pk)
    except SubjectNotFound:
        raise Http404 from None


def _definition_or_404(user: Any, pk: Any) -> ReportDefinition:
    try:
        return selectors.definition_get(user=user, pk=pk)
    except SubjectNotFound:
        raise Http404 from None


def _errors(form: Any, error: ValidationError) -> None:
    for name, problems in (error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}).items():
        form.add_error(name if name in form.fields else None, problems)


class StatementsPage(FirmScopedView, TemplateView):
    required_right: ClassVar[Right | str] = Right.ACTIVITY_STATEMENTS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["reports_nav"] = "statements"
        return context


class StatementsView(StatementsPage):
    template_name = "statements/statements.html"

    def _form(self, data: Any = None) -> StatementForm:
        initial: dict[str, Any] = {}
        if (household := self.request.GET.get("household", "")).isdigit():
            initial["household"] = int(household)
        if (account := self.request.GET.get("account", "")).isdigit():
            found = selectors.scoped_accounts(self.user).filter(pk=int(account)).first()
            if found is not None:
                initial["account"] = found.number
        return StatementForm(
            data, initial=initial, households=selectors.households_in_scope(user=self.user),
            benchmarks=book.benchmark_symbols(),
        )  # fmt: skip

    def _page(self, form: StatementForm, status: int = 200) -> HttpResponse:
        recent = list(selectors.statements(user=self.user)[:RECENT])
        return self.render_to_response(self.get_context_data(form=form, statements=recent), status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._page(self._form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            return self._page(form, 400)
        data = form.cleaned_data
        account = None
        if data["account"]:
            account = selectors.account_by_number(user=self.user, number=data["account"])
            if account is None:
                form.add_error("account", f"No account {data['account']} in your scope.")
                return self._page(form, 400)
        try:
            subject = services.subject_of(user=self.user, account=account, household=data["household"])
            statement = services.statement_request(
                actor=self.user, subject=subject, start=data["start"], end=data["end"], kind=data["kind"],
                style=data["style"], sections=data["sections"], benchmark=data["benchmark"],
            )  # fmt: skip
        except SubjectNotFound:
            raise Http404 from None
        except ValidationError as error:
            _errors(form, error)
            return self._page(form, 400)
        messages.success(request, "The statement is being made.")
        return redirect("reports:statements:statement", statement.pk)


class StatementView(StatementsPage):
    template_name = "statements/statement.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        statement = _statement_or_404(self.user, kwargs["pk"])
        template = "statements/_statement_status.html" if request.headers.get("HX-Request") else self.template_name
        return render(request, template, self.get_context_data(statement=statement))


def pdf_response(statement: Statement, *, what: str, data: bytes | None = None) -> HttpResponse:
    data = data if data is not None else services.statement_pdf(statement=statement)
    if data is None:
        return HttpResponse("The PDF was deleted from the contact's documents.", status=410,
                            content_type="text/plain; charset=utf-8")  # fmt: skip
    audit.record_read(what=what, obj=statement, details={"sha256": statement.content_hash})
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="statement-{statement.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _made_or_404(user: Any, pk: Any) -> Statement:
    statement = _statement_or_404(user, pk)
    if not statement.made:
        raise Http404
    return statement


class StatementPdfView(StatementsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return pdf_response(_made_or_404(self.user, pk), what="statement PDF download")


class StatementCsvView(StatementsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        statement = _made_or_404(self.user, pk)
        audit.record_read(what="statement CSV export", obj=statement)
        body = rendering.csv_text(statement.figures, list(statement.sections), title=statement.title,
                                  date_format=date_style().code)  # fmt: skip
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="statement-{statement.pk}.csv"'
        return response


class StatementXlsxView(StatementsPage):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        statement = _made_or_404(self.user, kwargs["pk"])
        audit.record_read(what="statement Excel export", obj=statement)
        handle = rendering.workbook(statement.figures, list(statement.sections), date_format=date_style().code)
        return FileResponse(handle, as_attachment=True, filename=f"statement-{statement.pk}.xlsx")  # type: ignore[return-value]


class ContactStatementsView(StatementsPage):
    """The contact's Reports tab."""

    template_name = "statements/contact.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:  # a contact the user reaches through their Activity Statements scope
            contact = scope_contacts(Contact.objects.all(), user=self.user, right=Right.ACTIVITY_STATEMENTS).get(
                pk=kwargs["pk"]
            )
        except (Contact.DoesNotExist, ValueError):
            raise Http404 from None
        rows = list(selectors.contact_statements(user=self.user, contact=contact)[:200])
        return self.render_to_response(self.get_context_data(contact=contact, statements=rows))


class DisclosuresView(StatementsPage):
    template_name = "statements/disclosures.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DisclosuresForm(initial={"disclosures": services.disclosures(firm_id=self.user.firm_id)})
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = DisclosuresForm(request.POST)
        if form.is_valid():
            try:
                services.disclosures_update(actor=self.user, text=form.cleaned_data["disclosures"])
            except ValidationError as error:
                _errors(form, error)
            else:
                messages.success(request, "Disclosures saved: statements made from now on print them.")
                return redirect("reports:statements:disclosures")
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Definitions ----------------------------------------------------------------------------------------------


def _definition_form(user: Any, data: Any = None, initial: dict[str, Any] | None = None) -> DefinitionForm:
    return DefinitionForm(data, initial=initial, households=selectors.households_in_scope(user=user),
                          benchmarks=book.benchmark_symbols())  # fmt: skip


def _save(request: HttpRequest, user: Any, form: DefinitionForm, definition: ReportDefinition | None) -> Any:
    """The definition saved from a valid ``form``, or None with the errors on the form."""
    data = form.cleaned_data
    accounts = []
    for number in data["accounts"]:
        found = selectors.account_by_number(user=user, number=number)
        if found is None:
            form.add_error("accounts", f"No account {number} in your scope.")
            return None
        accounts.append(found)
    try:
        return services.definition_save(
            actor=user, definition=definition, name=data["name"], kind=data["kind"], style=data["style"],
            sections=data["sections"], period=data["period"], benchmark=data["benchmark"],
            every_account=data["every_account"], accounts=accounts, households=data["households"],
            frequency=data["frequency"], email_clients=data["email_clients"], active=data["active"],
        )  # fmt: skip
    except SubjectNotFound:
        form.add_error("households", "A household chosen is not in your scope.")
    except ValidationError as error:
        _errors(form, error)
    return None


class DefinitionsView(StatementsPage):
    template_name = "statements/definitions.html"

    def _page(self, form: DefinitionForm, status: int = 200) -> HttpResponse:
        rows = list(selectors.definitions(user=self.user)[:200])
        return self.render_to_response(self.get_context_data(form=form, definitions=rows), status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._page(_definition_form(self.user, initial={"email_clients": True, "active": True}))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = _definition_form(self.user, request.POST)
        if form.is_valid() and (definition := _save(request, self.user, form, None)) is not None:
            messages.success(request, f"{definition.name} saved.")
            return redirect("reports:statements:definition", definition.pk)
        return self._page(form, 400)


class DefinitionView(StatementsPage):
    template_name = "statements/definition.html"

    def _page(
        self, definition: ReportDefinition, form: DefinitionForm | None = None, status: int = 200
    ) -> HttpResponse:
        targets = selectors.definition_targets(definition=definition)
        if form is None:
            form = _definition_form(self.user, initial={
                "name": definition.name, "kind": definition.kind, "style": definition.style,
                "sections": definition.sections, "period": definition.period, "benchmark": definition.benchmark,
                "every_account": definition.every_account, "frequency": definition.frequency,
                "email_clients": definition.email_clients, "active": definition.active,
                "accounts": " ".join(t.account.number for t in targets if t.account),
                "households": [t.household_id for t in targets if t.household_id],
            })  # fmt: skip
        runs = selectors.definition_runs(definition=definition)
        context = self.get_context_data(
            definition=definition, form=form, targets=targets, runs=runs,
            deliveries=list(selectors.definition_deliveries(definition=definition)),
        )  # fmt: skip
        template = "statements/_runs.html" if self.request.headers.get("HX-Request") else self.template_name
        return render(self.request, template, context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._page(_definition_or_404(self.user, kwargs["pk"]))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        definition = _definition_or_404(self.user, kwargs["pk"])
        form = _definition_form(self.user, request.POST)
        if form.is_valid() and _save(request, self.user, form, definition) is not None:
            messages.success(request, "Saved.")
            return redirect("reports:statements:definition", definition.pk)
        return self._page(definition, form, 400)


class DefinitionRunView(StatementsPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        definition = _definition_or_404(self.user, pk)
        try:
            run = delivery.run_start(actor=self.user, definition=definition)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Running {definition.name} for {run.period_start} to {run.period_end}.")
        return redirect("reports:statements:definition", definition.pk)


class DefinitionDeleteView(StatementsPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        definition = _definition_or_404(self.user, pk)
        services.definition_delete(actor=self.user, definition=definition)
        messages.success(request, f"{definition.name} removed (or switched off, if it has runs).")
        return redirect("reports:statements:definitions")


# --- The client's copy ------------------------------------------------------------------------------------------


def _brand(firm_id: int) -> dict[str, str]:
    brand = branding.for_firm(firm_id)
    logo = f"data:{brand.logo_type};base64,{base64.b64encode(brand.logo).decode()}" if brand.logo else ""
    return {"name": brand.name, "logo": logo, "firm_id": str(firm_id)}


def _not_valid(request: HttpRequest) -> HttpResponse:
    response = render(request, "links/not_valid.html", {"message": NOT_VALID}, status=404)
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def statement_copy(request: HttpRequest, token: str) -> HttpResponseBase:
    """The client's copy of a statement: GET shows what it is and a Download button; the POST uses
    the link (one conditional UPDATE, in the request's transaction) and sends the PDF."""
    with link_scope(token):
        try:
            link = link_resolve(token=token, purpose=delivery.COPY_PURPOSE)
        except LinkNotValid:
            return _not_valid(request)
        statement = Statement.objects.select_related("document").filter(pk=link.subject_id).first()
        if statement is None or not statement.made:
            return _not_valid(request)
        if request.method == "POST":
            data = services.statement_pdf(statement=statement)
            if data is None:
                return pdf_response(statement, what="statement PDF downloaded by the client")  # 410, link unused
            try:
                link_consume(link=link, fingerprint=statement.content_hash)
            except LinkNotValid:
                return _not_valid(request)
            return pdf_response(statement, what="statement PDF downloaded by the client", data=data)
        response = render(request, "statements/copy.html", {
            "brand": _brand(link.firm_id), "statement": statement, "expires_at": link.expires_at,
            "action": reverse("reports:statements:copy", args=[token]),
        })  # fmt: skip
        response["X-Robots-Tag"] = "noindex"
        return response


statement_copy.public_reason = (  # type: ignore[attr-defined]
    "A client who is not a user opens it from the statement email; the single-use, expiring token names the one "
    "statement it downloads."
)
