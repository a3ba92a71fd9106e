"""The floor's emailed links: hashed, single-use, expiring, bound to their content, one answer
for every bad token, consumed by one conditional update, audited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry
from advisorportal.hashing import fingerprint
from advisorportal.links import purposes, services
from advisorportal.links.models import Link
from advisorportal.links.selectors import links_about
from advisorportal.links.services import LinkNotValid, link_consume, link_issue, link_resolve, link_scope
from advisorportal.links.tasks import links_expire_all
from advisorportal.tenancy.context import current_firm_id, firm_scope
from crm.models import Contact
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import ContactFactory, FirmFactory, UserFactory

EXPIRED: list[int] = []
APPROVAL = purposes.register(purposes.Purpose("tests.approval", "Test approval"))
INVITATION = purposes.register(
    purposes.Purpose(
        "tests.invitation", "Test invitation", expiry=timedelta(days=7), on_expired=lambda link: EXPIRED.append(link.pk)
    )
)


def content(contact: Contact) -> str:
    """What a link about ``contact`` approves: its name and email as they are now."""
    return fingerprint({"first_name": contact.first_name, "last_name": contact.last_name, "email": contact.email})


def issue(contact: Contact, actor: Any = None, purpose: str = APPROVAL.code) -> services.IssuedLink:
    return link_issue(purpose=purpose, subject=contact, fingerprint=content(contact), actor=actor,
                      recipient_email=contact.email)  # fmt: skip


def audit(persona: Persona, link: Link) -> list[tuple[str, str, dict[str, Any]]]:
    with persona.scope():
        entries = AuditEntry.objects.filter(object_type="links.link", object_id=str(link.pk)).order_by("id")
        return [(e.action, e.object_repr, e.changes) for e in entries]


@pytest.fixture
def contact(alice: Persona) -> Contact:
    with alice.scope():
        return ContactFactory(first_name="Zoë", last_name="Ode", email="zoe@example.test")


@pytest.mark.django_db
def test_the_token_is_shown_once_and_only_its_hash_is_stored(alice: Persona, contact: Contact) -> None:
    with alice.scope():
        issued = issue(contact, actor=alice.user)
        firm_part, secret = issued.token.split(".")
        assert firm_part == str(alice.firm.pk) and len(secret) == 43  # token_urlsafe(32): 256 bits
        link = Link.objects.get(pk=issued.link.pk)
        stored = [str(getattr(link, f.attname)) for f in Link._meta.concrete_fields]
        assert not any(secret in value for value in stored)
        assert link.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert (link.subject_type, link.subject_id) == ("crm.contact", str(contact.pk))
        assert link.created_by_id == alice.user.pk and link.recipient_email == "zoe@example.test"
        hours = (link.expires_at - link.created_at).total_seconds() / 3600
        assert round(hours) == 72  # LINK_EXPIRY_HOURS
        assert list(links_about(subject=contact)) == [link]
        assert issue(contact).token != issued.token
    [(action, what, changes)] = audit(alice, link)
    assert action == "create" and what == "Test approval link issued"
    assert changes["recipient_email"] == [None, "zoe@example.test"] and "token_hash" not in changes


@pytest.mark.django_db
def test_a_link_is_resolved_without_change_and_used_once(alice: Persona, contact: Contact) -> None:
    with alice.scope():
        issued = issue(contact)
    with link_scope(issued.token):  # the page, before anyone signs in
        assert current_firm_id() == alice.firm.pk
        link = link_resolve(token=issued.token, purpose=APPROVAL.code)
        assert link_resolve(token=issued.token, purpose=APPROVAL.code).used_at is None  # GET changes nothing
        used = link_consume(link=link, fingerprint=content(contact))
        assert used.used_at is not None
        with pytest.raises(LinkNotValid):
            link_consume(link=link, fingerprint=content(contact))
        with pytest.raises(LinkNotValid):
            link_resolve(token=issued.token, purpose=APPROVAL.code)
    assert current_firm_id() is None
    events = [(action, what, changes.get("details", {}).get("refused")) for action, what, changes in audit(alice, link)]
    assert events == [
        ("create", "Test approval link issued", None),
        ("update", "Test approval link used", None),
        ("read", "Test approval link refused", "used"),
        ("read", "Test approval link refused", "used"),
    ]


@pytest.mark.django_db
def test_every_bad_token_gets_the_same_answer(alice: Persona, charlie: Persona, contact: Contact) -> None:
    with alice.scope():
        used, expired, revoked, other_purpose = (issue(contact) for _ in range(4))
        with transaction.atomic():
            link_consume(link=used.link, fingerprint=content(contact))
        Link.objects.filter(pk=expired.link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        Link.objects.filter(pk=revoked.link.pk).update(revoked_at=timezone.now())
    with charlie.scope():
        charlies = issue(ContactFactory())
    alice_secret = used.token.split(".")[1]
    bad = {
        "unknown": f"{alice.firm.pk}.{secrets.token_urlsafe(32)}",
        "malformed": "not-a-token",
        "no secret": f"{alice.firm.pk}.",
        "too long": f"{alice.firm.pk}.{'A' * 5000}",
        "unknown firm": f"999999999.{alice_secret}",
        "used": used.token,
        "expired": expired.token,
        "revoked": revoked.token,
        "another firm's secret under this firm": f"{alice.firm.pk}.{charlies.token.split('.')[1]}",
    }
    answers = set()
    for token in bad.values():
        with link_scope(token), pytest.raises(LinkNotValid) as refused:
            link_resolve(token=token, purpose=APPROVAL.code)
        answers.add(str(refused.value))
    with link_scope(other_purpose.token), pytest.raises(LinkNotValid) as refused:
        link_resolve(token=other_purpose.token, purpose=INVITATION.code)
    answers.add(str(refused.value))
    assert answers == {services.NOT_VALID}
    reasons = {}
    for name, issued in (("expired", expired), ("revoked", revoked), ("purpose", other_purpose)):
        reasons[name] = audit(alice, issued.link)[-1][2]["details"]["refused"]
    assert reasons == {"expired": "expired", "revoked": "revoked", "purpose": "foreign"}


@pytest.mark.django_db
def test_an_outsider_firm_neither_sees_nor_opens_another_firms_links(
    alice: Persona, charlie: Persona, contact: Contact
) -> None:
    with alice.scope():
        issued = issue(contact)
    with charlie.scope():
        assert not Link.objects.filter(pk=issued.link.pk).exists()
        # A signed-in user of another firm keeps their scope; the token is refused, not switched to.
        with link_scope(issued.token):
            assert current_firm_id() == charlie.firm.pk
            with pytest.raises(LinkNotValid):
                link_resolve(token=issued.token, purpose=APPROVAL.code)
        # Revoking "the same" subject in the other firm touches nothing of this one.
        assert services.links_revoke(subject_type="crm.contact", subject_id=str(contact.pk)) == 0
        # Nor is a refusal about this firm's link written into the other firm's trail.
        assert not AuditEntry.objects.filter(object_type="links.link").exists()
    with alice.scope():
        assert Link.objects.get(pk=issued.link.pk).revoked_at is None
    assert [action for action, _, _ in audit(alice, issued.link)] == ["create"]


@pytest.mark.django_db
def test_an_edit_voids_the_link(alice: Persona, contact: Contact) -> None:
    with alice.scope():
        first, second = issue(contact, actor=alice.user), issue(contact)
        edited = Contact.objects.get(pk=contact.pk)
        edited.email = "zoe.ode@example.test"
        edited.save()
        # Consuming compares the content as it is now: an edit that raced the click is caught.
        link = link_resolve(token=first.token, purpose=APPROVAL.code)
        with pytest.raises(LinkNotValid):
            link_consume(link=link, fingerprint=content(edited))
        assert audit(alice, first.link)[-1][2]["details"]["refused"] == "changed"
        # And the edit service revokes the subject's links outright.
        assert services.links_revoke(subject=edited, actor=alice.user) == 2
        assert services.links_revoke(subject=edited) == 0
        with pytest.raises(LinkNotValid):
            link_resolve(token=second.token, purpose=APPROVAL.code)
    action, what, changes = audit(alice, second.link)[1]
    assert (action, what, list(changes)) == ("update", "Test approval link revoked", ["revoked_at"])


@pytest.mark.django_db
def test_issuing_checks_purpose_subject_and_expiry(alice: Persona, contact: Contact) -> None:
    with alice.scope():
        with pytest.raises(LookupError, match="No link purpose"):
            issue(contact, purpose="tests.unknown")
        with pytest.raises(ValueError, match="what the link is about"):
            link_issue(purpose=APPROVAL.code, fingerprint="0" * 64, recipient_email="a@example.test")
        with pytest.raises(ValidationError):
            link_issue(purpose=APPROVAL.code, subject=contact, fingerprint="0" * 64, recipient_email="not an email")
        with pytest.raises(ValidationError):
            link_issue(purpose=APPROVAL.code, subject=contact, fingerprint="0" * 64,
                       recipient_email="a@example.test", expires_in=timedelta(hours=-1))  # fmt: skip
        named = link_issue(purpose=INVITATION.code, subject_type="esg.questionnaire", subject_id="q-7",
                           fingerprint="0" * 64, recipient_email="a@example.test")  # fmt: skip
        assert round((named.link.expires_at - named.link.created_at).total_seconds() / 86400) == 7
    with pytest.raises(ValueError, match="lowercase"):
        purposes.Purpose("Funding Withdrawal", "x")
    with pytest.raises(ValueError, match="already registered"):
        purposes.register(purposes.Purpose("tests.approval", "Another label"))


@pytest.mark.django_db
def test_the_expiry_sweep_closes_expired_links_of_every_firm(
    alice: Persona, charlie: Persona, contact: Contact
) -> None:
    EXPIRED.clear()
    with alice.scope():
        due, fresh = issue(contact, purpose=INVITATION.code), issue(contact, purpose=INVITATION.code)
        Link.objects.filter(pk=due.link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with charlie.scope():
        theirs = issue(ContactFactory(), purpose=INVITATION.code)
        Link.objects.filter(pk=theirs.link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert links_expire_all.delay().get() >= 2  # Celery runs eagerly in tests: one task per firm
    assert sorted(EXPIRED) == sorted([due.link.pk, theirs.link.pk])
    with alice.scope():
        assert Link.objects.get(pk=due.link.pk).expired_at is not None
        assert Link.objects.get(pk=fresh.link.pk).expired_at is None
        assert services.links_expire() == 0  # a rerun closes nothing new
    with charlie.scope():
        assert Link.objects.get(pk=theirs.link.pk).expired_at is not None
    assert audit(alice, due.link)[-1][:2] == ("update", "Test invitation link expired")


@pytest.fixture
def committed_firm(committed_db: None) -> tuple[Any, Any]:
    firm = FirmFactory(name="Gamma Partners", slug="gamma")
    return firm, UserFactory(firm=firm, email="gina@gamma.test")


@pytest.mark.usefixtures("committed_db")
def test_twenty_concurrent_consumers_give_exactly_one_winner(committed_firm: tuple[Any, Any]) -> None:
    firm, user = committed_firm
    with firm_scope(firm):
        issued = link_issue(purpose=APPROVAL.code, subject_type="tests.request", subject_id="1",
                            fingerprint="f" * 64, recipient_email="client@example.test", actor=user)  # fmt: skip

    def approve(index: int) -> str:
        with link_scope(issued.token), transaction.atomic():
            try:
                link = link_resolve(token=issued.token, purpose=APPROVAL.code)
                link_consume(link=link, fingerprint="f" * 64)
            except LinkNotValid:
                return "refused"  # caught inside the transaction, so the refusal's audit entry stays
            return "approved"

    results = run_concurrently(20, approve)
    assert sorted(map(str, results)) == ["approved"] + ["refused"] * 19
    with firm_scope(firm):
        assert Link.objects.get(pk=issued.link.pk).used_at is not None
        entries = AuditEntry.objects.filter(object_type="links.link", object_id=str(issued.link.pk))
        assert entries.filter(object_repr="Test approval link used").count() == 1
        assert entries.filter(object_repr="Test approval link refused").count() == 19


@pytest.mark.usefixtures("committed_db")
def test_consuming_outside_a_transaction_is_refused(committed_firm: tuple[Any, Any]) -> None:
    firm, _ = committed_firm
    with firm_scope(firm):
        issued = link_issue(purpose=APPROVAL.code, subject_type="tests.request", subject_id="2",
                            fingerprint="f" * 64, recipient_email="client@example.test")  # fmt: skip
        with pytest.raises(RuntimeError, match="inside the transaction"):
            link_consume(link=issued.link, fingerprint="f" * 64)
        assert Link.objects.get(pk=issued.link.pk).used_at is None
