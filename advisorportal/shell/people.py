"""The people pages that need the client book: a user's rights with their account scope (which
households, groups and accounts to choose from) and "view as this user". Identity (``accounts``)
must not import the book, so these pages stand in the shell, above both."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import FormView, TemplateView

from accounts import audit, services, two_factor
from accounts.access import FirmScopedView, get_scoped_or_404
from accounts.forms import UserEditForm
from accounts.models import User
from accounts.rights import Right
from accounts.selectors import account_scope_of, firm_users, user_rights
from crm import selectors as crm_selectors
from portfolios import selectors as portfolio_selectors


class UserEditView(FirmScopedView, FormView):
    """One user's role, status and access rights; changing them needs a fresh second factor."""

    required_right = Right.USER_MANAGEMENT
    step_up = True
    template_name = "accounts/user_edit.html"
    form_class = UserEditForm

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.person: User | None = None

    def get_person(self) -> User:
        if self.person is None:
            self.person = get_scoped_or_404(firm_users(firm_id=self.user.firm_id), pk=self.kwargs["pk"])
        return self.person

    def get_form_kwargs(self) -> dict[str, Any]:
        return {
            **super().get_form_kwargs(),
            "households": crm_selectors.households_for_scope_choice(),
            "groups": crm_selectors.groups_for_scope_choice(),
        }

    def get_initial(self) -> dict[str, Any]:
        person = self.get_person()
        rights = sorted(r.value for r in user_rights(user=person))
        chosen = account_scope_of(user=person)
        numbers = portfolio_selectors.account_numbers_by_id(ids=chosen.account_ids)
        return {
            "role": person.role, "is_active": person.is_active, "rights": rights, "scope": chosen.scope,
            "households": [str(h) for h in chosen.household_ids], "groups": [str(g) for g in chosen.group_ids],
            "account_numbers": ", ".join(numbers),
        }  # fmt: skip

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        person = self.get_person()
        context.update(person=person, person_two_factor=two_factor.has_two_factor(person))
        return context

    def form_valid(self, form: UserEditForm) -> HttpResponse:
        data = form.cleaned_data
        found = portfolio_selectors.account_ids_by_number(numbers=data["account_numbers"])
        unknown = [n for n in data["account_numbers"] if n not in found]
        if unknown:
            form.add_error("account_numbers", f"No account with the number {', '.join(unknown)}.")
            return self.form_invalid(form)
        try:
            with transaction.atomic():  # both or neither: a refused scope leaves the rights as they were
                services.user_update(
                    actor=self.user,
                    user=self.get_person(),
                    role=data["role"],
                    is_active=data["is_active"],
                    rights=frozenset(Right(r) for r in data["rights"]),
                )
                services.account_scope_set(
                    actor=self.user,
                    user=self.get_person(),
                    scope=data["scope"],
                    account_ids=frozenset(found.values()),
                    household_ids=frozenset(int(h) for h in data["households"]),
                    group_ids=frozenset(int(g) for g in data["groups"]),
                )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved {self.get_person().full_name}.")
        return redirect("accounts:users")


class UserPreviewView(FirmScopedView, TemplateView):
    """The "view as this user" preview: what a user's rights and scope let them see, through the same
    policy and selectors their own pages use. Nothing is done as them; the look is audited."""

    required_right = Right.USER_MANAGEMENT
    template_name = "accounts/user_preview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        person = get_scoped_or_404(firm_users(firm_id=self.user.firm_id), pk=kwargs["pk"])
        rights = user_rights(user=person)
        chosen = account_scope_of(user=person)
        accounts = (
            portfolio_selectors.account_page(user=person, size=20) if Right.ACCOUNT_INFORMATION in rights else None
        )
        audit.record_read(what=f"preview of {person.email}'s access", details={"user_id": person.pk})
        context.update(
            person=person,
            rights=sorted(rights, key=lambda r: r.label),
            sections=[label for right, label in SECTIONS if right in rights],
            scope=chosen.scope,
            scoped_accounts=portfolio_selectors.account_numbers_by_id(ids=chosen.account_ids),
            scoped_households=[h.name for h in crm_selectors.households_for_scope_choice(ids=chosen.household_ids)],
            scoped_groups=[g.name for g in crm_selectors.groups_for_scope_choice(ids=chosen.group_ids)],
            contacts=(crm_selectors.contact_page(user=person, size=20) if Right.CRM in rights else None),
            accounts=accounts,
        )
        return context


# The navigation sections and the right each needs (mirrors templates/base.html).
SECTIONS = [
    (Right.CRM, "Contacts"),
    (Right.ACCOUNT_INFORMATION, "Accounts"),
    (Right.FUNDING, "Funding"),
    (Right.ONBOARDING, "Onboarding"),
    (Right.FEE_ADMINISTRATION, "Billing"),
    (Right.PORTFOLIO_ANALYST, "Reports"),
]
