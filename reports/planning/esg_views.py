"""ESG impact preferences (issue #19, point 5): a contact's ranking of the impact values, recorded
by the advisor on the contact's ESG page or ranked by the client on a white-branded page opened
from an emailed single-use link (``planning.esg``), without signing in.

The client's page is the links kit's pattern: GET and HEAD change nothing; a POST checks the
ranking (a refusal is a 400 and the link stays usable), then consumes the link by one conditional
UPDATE and stores the ranking in the request's transaction. Every bad token (unknown, used,
expired, revoked, another purpose's) gets the same page, counted per address like the approval
page's (its throttle, reused).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.access import AuthenticatedRequest, firm_view
from advisorportal.links import services as links
from advisorportal.links.views import _brand, _not_valid, _throttled, _too_many
from reports.planning import esg, selectors, services
from reports.planning.forms import EsgRankForm
from reports.planning.views import READ, _contact, _page

PUBLIC_REASON = (
    "A client who is not a user ranks their impact values from an emailed link: the single-use, expiring token "
    "names the invitation, and the page shows and stores nothing else."
)


@firm_view(READ)
def esg_contact(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The contact's current ranking and history; record a ranking, or email the client an invitation."""
    contact = _contact(request, pk)
    history = selectors.esg_history(contact=contact)
    form = EsgRankForm(initial_ranking=history[0].ranking if history else None)
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "invite":
            try:
                services.esg_invite(actor=request.user, contact=contact)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("planning:esg-contact", pk=contact.pk)
            messages.success(request, f"The invitation was emailed to {contact.email}; the link works once.")
            return redirect("planning:esg-contact", pk=contact.pk)
        form = EsgRankForm(request.POST)
        if form.is_valid():
            services.esg_record(actor=request.user, contact=contact, ranking=form.ranking,
                                note=form.cleaned_data.get("note", ""))  # fmt: skip
            messages.success(request, "The impact preferences were recorded.")
            return redirect("planning:esg-contact", pk=contact.pk)
        status = 400
    context = {
        "contact": contact, "form": form, "history": [(p, esg.described(p.ranking)) for p in history],
        "invitations": selectors.esg_invitations(contact=contact), "values": esg.VALUES,
    }  # fmt: skip
    return _page(request, "esg_contact.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def esg_rank(request: HttpRequest, token: str) -> HttpResponseBase:
    if _throttled(request):
        return _too_many(request)
    with links.link_scope(token):
        try:
            link = links.link_resolve(token=token, purpose=services.ESG_PURPOSE)
        except links.LinkNotValid:
            return _not_valid(request)
        brand = _brand(link.firm_id)
        form = EsgRankForm(request.POST if request.method == "POST" else None, with_note=False)
        if request.method == "POST" and form.is_valid():
            try:
                services.esg_answer(link=link, ranking=form.ranking)
            except links.LinkNotValid:
                return _not_valid(request, status=400)
            message = "Your impact preferences were sent to your advisor. Thank you."
            return render(request, "links/done.html", {"brand": brand, "message": message})
        status = 400 if request.method == "POST" else 200
        response = render(
            request, "planning/esg_rank.html", {"brand": brand, "form": form, "expires_at": link.expires_at},
            status=status,
        )  # fmt: skip
        response["X-Robots-Tag"] = "noindex"
        return response


esg_rank.public_reason = PUBLIC_REASON  # type: ignore[attr-defined]
