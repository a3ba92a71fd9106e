"""Bulk email (advisorportal/mail/bulk.py and crm/agenda/bulk_email*.py): the plan (who is left
out and why), scope, the job sending each address once (run twice, resumed after a stop), cancel,
the rate limit, bad input, the API and the pages. Emails go to Django's locmem backend."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from accounts.rights import Right, Role
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.mail import bulk as mail_bulk
from advisorportal.mail import rate, services
from advisorportal.mail import selectors as mail_selectors
from advisorportal.mail.models import BulkEmail, BulkStatus, EmailStatus, MessageTemplate, OutgoingEmail, Unsubscribe
from advisorportal.tenancy.context import firm_scope
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.agenda import bulk_email
from crm.models import Group
from tests.conftest import Persona, staff_scoped_to
from tests.factories import ContactFactory, FirmFactory, UserFactory

WAIT = 30


@pytest.fixture(autouse=True)
def _locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []


def _template(category: str = "marketing", subject: str = "News for {{ contact.first_name }}") -> MessageTemplate:
    template = MessageTemplate(
        name=f"Newsletter {category} {subject[:20]}", category=category, subject=subject,
        body="Dear {{ contact.first_name }},\n\nOur quarterly letter.\n\n{{ advisor.name }}",
    )  # fmt: skip
    template.full_clean()
    template.save()
    return template


def _selection(persona: Persona, contacts: list[Any]) -> crm_selectors.ContactSelection:
    return crm_selectors.contact_selection(user=persona.user, contacts=[c.pk for c in contacts])


def _start(persona: Persona, template: MessageTemplate, contacts: list[Any]) -> BulkEmail:
    return bulk_email.bulk_email_start(actor=persona.user, template=template, selection=_selection(persona, contacts))


def _run(email: BulkEmail) -> str:
    return job_services.job_execute(job_id=email.job_id)


def _sent_to() -> list[str]:
    return sorted(address for message in django_mail.outbox for address in message.to)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sending limit counts in a minute that no earlier run used (Redis outlives test runs)."""
    now = [60.0 * secrets.randbelow(10**9) + 10]  # 10 s into the minute
    real_take = rate.take
    monkeypatch.setattr(mail_bulk.rate, "take", lambda firm_id, wanted: real_take(firm_id, wanted, now=now[0]))
    return now


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """Five contacts: two with addresses, one without, one sharing an address (another case), one
    unsubscribed from marketing."""
    with alice.scope():
        ann = ContactFactory(first_name="Ann", email="ann@example.test")
        ben = ContactFactory(first_name="Ben", email="ben@example.test")
        nobody = ContactFactory(first_name="Nia", email="")
        twin = ContactFactory(first_name="Anna", email="ANN@example.test")
        gone = ContactFactory(first_name="Gus", email="gus@example.test")
        services.unsubscribe(firm_id=alice.firm.pk, email="gus@example.test")
        template = _template()
    return {"contacts": [ann, ben, nobody, twin, gone], "template": template, "ann": ann}


# --- The plan and the job ------------------------------------------------------------------------


def test_plan_counts_who_receives_and_who_is_left_out(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        plan = bulk_email.plan(
            actor=alice.user, template=book["template"], selection=_selection(alice, book["contacts"])
        )
        assert (plan.contacts, plan.recipients, plan.no_address, plan.unsubscribed, plan.duplicates) == (5, 2, 1, 1, 1)
        assert plan.first == book["ann"] and plan.preview is not None
        assert plan.preview.subject == "News for Ann" and "Alice Able" in plan.preview.text
        service = _template("service", "Notice")
        plan = bulk_email.plan(actor=alice.user, template=service, selection=_selection(alice, book["contacts"]))
        assert (plan.recipients, plan.unsubscribed) == (3, 0)  # an opt-out of marketing only


def test_the_job_sends_each_address_once_and_leaves_out_the_rest(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        email = _start(alice, book["template"], book["contacts"])
        assert not OutgoingEmail.objects.filter(bulk=email).exists()  # the job prepares them
        assert _run(email) == JobStatus.DONE
        assert _sent_to() == ["ann@example.test", "ben@example.test"]
        assert django_mail.outbox[0].subject == "News for Ann"
        assert "List-Unsubscribe" in django_mail.outbox[0].extra_headers
        email.refresh_from_db()
        assert email.status == BulkStatus.DONE
        counts = mail_selectors.counts(email)
        assert (counts["sent"], counts["queued"], counts["skipped_no_address"]) == (2, 0, 1)
        assert (counts["skipped_unsubscribed"], counts["skipped_duplicate"]) == (1, 1)
        # A message delivered twice, or the job run again: nothing is sent again.
        assert _run(email) == JobStatus.DONE
        Job.objects.filter(pk=email.job_id).update(status=JobStatus.QUEUED)
        assert _run(email) == JobStatus.DONE
        assert len(django_mail.outbox) == 2
        assert OutgoingEmail.objects.filter(bulk=email).count() == 2


def test_a_contact_outside_the_users_scope_never_receives(firm_a: Any, alice: Persona) -> None:
    with alice.scope():
        inside = ContactFactory(email="in@example.test")
        outside = ContactFactory(email="out@example.test")
        dana = staff_scoped_to(alice, [inside], name="Dana's clients")
        group = Group.objects.get(name="Dana's clients")
        template = _template("service", "Hello")
        with pytest.raises(outside.DoesNotExist):
            crm_selectors.contact_selection(user=dana.user, contacts=[inside.pk, outside.pk])
        # A saved view or "all" can only ever name contacts in scope; the group gives the one inside.
        selection = crm_selectors.contact_selection(user=dana.user, group=group.pk)
        email = bulk_email.bulk_email_start(actor=dana.user, template=template, selection=selection)
        assert email.contact_ids == [inside.pk]
        assert _run(email) == JobStatus.DONE
    assert _sent_to() == ["in@example.test"]


def test_a_job_resumed_after_a_stop_sends_nobody_twice(
    alice: Persona, monkeypatch: pytest.MonkeyPatch, settings: Any, clock: list[float]
) -> None:
    settings.MAIL_RATE_PER_MINUTE = 2
    monkeypatch.setattr(mail_bulk, "BATCH", 2)

    class Stopped(Exception):
        pass

    def stop(seconds: float, progress: Any) -> None:
        raise Stopped  # the worker dies while waiting for the next minute

    monkeypatch.setattr(mail_bulk, "_wait", stop)
    with alice.scope():
        contacts = [ContactFactory(email=f"c{i}@example.test") for i in range(6)]
        email = _start(alice, _template("service", "Hi"), contacts)
        assert _run(email) == JobStatus.FAILED
        assert len(django_mail.outbox) == 2
        # A second worker had claimed a batch and stopped while handing it over.
        interrupted = list(OutgoingEmail.objects.filter(bulk=email, status=EmailStatus.QUEUED).order_by("id"))[:1]
        OutgoingEmail.objects.filter(pk=interrupted[0].pk).update(status=EmailStatus.SENDING)
        settings.MAIL_RATE_PER_MINUTE = 0  # no limit for the rest
        job_services.job_retry(actor=alice.user, job=Job.objects.get(pk=email.job_id))
        assert _run(email) == JobStatus.DONE
        interrupted[0].refresh_from_db()
        assert (interrupted[0].status, interrupted[0].error) == (EmailStatus.FAILED, mail_bulk.INTERRUPTED)
        sent = _sent_to()
        assert len(sent) == len(set(sent)) == 5 and interrupted[0].to not in sent
        email.refresh_from_db()
        assert email.status == BulkStatus.DONE and email.recipients == 6
        assert mail_selectors.counts(email)["failed"] == 1


def test_the_rate_limit_is_respected(
    alice: Persona, monkeypatch: pytest.MonkeyPatch, settings: Any, clock: list[float]
) -> None:
    settings.MAIL_RATE_PER_MINUTE = 2
    waits: list[tuple[float, int]] = []

    def wait(seconds: float, progress: Any) -> None:
        waits.append((seconds, len(django_mail.outbox)))
        clock[0] += seconds

    monkeypatch.setattr(mail_bulk, "_wait", wait)
    with alice.scope():
        contacts = [ContactFactory(email=f"r{i}@example.test") for i in range(5)]
        email = _start(alice, _template("service", "Hi"), contacts)
        assert _run(email) == JobStatus.DONE
    assert waits == [(50.0, 2), (60.0, 4)]  # two a minute: 2, wait, 2, wait, 1
    assert len(django_mail.outbox) == 5


def test_a_queued_bulk_email_cancelled_sends_nothing(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        email = _start(alice, book["template"], book["contacts"])
        bulk_email.bulk_email_cancel(actor=alice.user, email=email)
        email.refresh_from_db()
        assert email.status == BulkStatus.CANCELLED
        assert _run(email) == JobStatus.CANCELLED
        with pytest.raises(ValidationError, match="nothing to cancel"):
            bulk_email.bulk_email_cancel(actor=alice.user, email=email)
    assert django_mail.outbox == []


@pytest.fixture
def committed(committed_db: None) -> Persona:
    firm = FirmFactory(name="Gamma", slug="bulk-email-gamma")
    user = UserFactory(firm=firm, email="gina@gamma.test", full_name="Gina Gray", role=Role.PRIMARY)
    return Persona(user, firm)


def test_cancel_while_sending_stops_the_queued_rows(
    committed: Persona, monkeypatch: pytest.MonkeyPatch, settings: Any, clock: list[float]
) -> None:
    settings.MAIL_RATE_PER_MINUTE = 2
    monkeypatch.setattr(mail_bulk, "BATCH", 2)
    waiting, asked = threading.Event(), threading.Event()

    def wait(seconds: float, progress: Any) -> None:
        waiting.set()
        assert asked.wait(WAIT)
        progress.update(phase="Waiting for the sending limit", force=True)  # sees the cancel

    monkeypatch.setattr(mail_bulk, "_wait", wait)
    with firm_scope(committed.firm):
        contacts = [ContactFactory(email=f"k{i}@example.test") for i in range(5)]
        template = _template("service", "Hi")
    result: list[Any] = []

    def work() -> None:  # a worker: the job runs here once the bulk email commits (Celery eager in tests)
        try:
            with firm_scope(committed.firm):
                email = _start(committed, template, contacts)
                result.append(Job.objects.get(pk=email.job_id).status)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            result.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        assert waiting.wait(WAIT)
        with firm_scope(committed.firm):
            bulk_email.bulk_email_cancel(actor=committed.user, email=BulkEmail.objects.get())
    finally:
        asked.set()
    worker.join(WAIT)
    assert result == [JobStatus.CANCELLED]
    with firm_scope(committed.firm):
        email = BulkEmail.objects.get()
        counts = mail_selectors.counts(email)
        assert email.status == BulkStatus.CANCELLED
        assert (counts["sent"], counts["cancelled"], counts["queued"]) == (2, 3, 0)
    assert len(django_mail.outbox) == 2


# --- Bad input ---------------------------------------------------------------------------------


def test_bad_input_is_refused_naming_the_field_and_creates_nothing(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        with pytest.raises(ValidationError) as refused:
            crm_selectors.contact_selection(user=alice.user, contacts=[])
        assert "contacts" in refused.value.message_dict
        with pytest.raises(ValidationError) as refused:
            mail_bulk.bulk_email_create(actor=alice.user, template=book["template"], contact_ids=[], source="none",
                                        kind=bulk_email.KIND, sample=bulk_email.SAMPLE)  # fmt: skip
        assert "contacts" in refused.value.message_dict
        typo = _template("service", "Hello {{ contact.frist_name }}")
        with pytest.raises(ValidationError) as refused:
            _start(alice, typo, book["contacts"])
        assert "contact.frist_name" in refused.value.message_dict["template"][0]
        odd = _template("service", "Odd")
        MessageTemplate.objects.filter(pk=odd.pk).update(category="newsletter")
        odd.refresh_from_db()
        with pytest.raises(ValidationError) as refused:
            _start(alice, odd, book["contacts"])
        assert "category" in refused.value.message_dict["template"][0]
        assert not BulkEmail.objects.exists() and not Job.objects.exists()
    response = alice.client().post(
        reverse("agenda:bulk-email-new"), {"action": "send", "ids": [c.pk for c in book["contacts"]]}
    )
    assert response.status_code == 400 and b"Choose a message template" in response.content
    with alice.scope():
        assert not BulkEmail.objects.exists() and not Unsubscribe.objects.filter(email="ann@example.test").exists()


# --- The API -----------------------------------------------------------------------------------

API = "/api/v1/bulk-emails/"


def key() -> dict[str, str]:
    """A new Idempotency-Key header (required to start a bulk email through the API)."""
    return {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}


def test_api_starts_lists_retrieves_and_cancels(alice: Persona, book: dict[str, Any]) -> None:
    api = alice.api()
    ids = [c.pk for c in book["contacts"]]
    response = api.post(API, {"template": book["template"].pk, "contacts": ids}, format="json", **key())
    assert response.status_code == 201, response.content
    body = response.json()
    with alice.scope():
        email = BulkEmail.objects.get()
    assert (body["id"], body["job"], body["status"], body["counts"]["contacts"]) == (
        email.pk,
        email.job_id,
        "queued",
        5,
    )
    listed = api.get(API)
    assert listed.status_code == 200 and [e["id"] for e in listed.json()["results"]] == [email.pk]
    with alice.scope():
        assert _run(email) == JobStatus.DONE
    one = api.get(f"{API}{email.pk}/").json()
    assert one["status"] == "done" and one["progress"] == 100
    assert (one["counts"]["sent"], one["counts"]["skipped_duplicate"]) == (2, 1)
    refused = api.post(f"{API}{email.pk}/cancel/")
    assert refused.status_code == 400 and "status" in str(refused.json())
    with alice.scope():
        second = _start(alice, book["template"], book["contacts"][:1])
    cancelled = api.post(f"{API}{second.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_api_start_needs_a_key_and_a_retry_sends_nothing_twice(alice: Persona, book: dict[str, Any]) -> None:
    api = alice.api()
    body = {"template": book["template"].pk, "contacts": [c.pk for c in book["contacts"]]}
    missing = api.post(API, body, format="json")
    assert missing.status_code == 400 and "Idempotency-Key" in missing.content.decode()
    with alice.scope():
        assert not BulkEmail.objects.exists()
    header = key()
    first = api.post(API, body, format="json", **header)
    again = api.post(API, body, format="json", **header)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    other = api.post(API, {**body, "contacts": body["contacts"][:1]}, format="json", **header)
    assert other.status_code == 422
    with alice.scope():
        assert BulkEmail.objects.count() == 1 and Job.objects.count() == 1


def test_api_bad_input_is_400_naming_the_field_and_changes_nothing(alice: Persona, book: dict[str, Any]) -> None:
    api = alice.api()
    ids = [c.pk for c in book["contacts"]]
    with alice.scope():
        typo = _template("service", "Hi {{ contact.frist_name }}")
    for body, field in (
        ({"contacts": ids}, "template"),
        ({"template": "x", "contacts": ids}, "template"),
        ({"template": book["template"].pk, "contacts": []}, "contacts"),
        ({"template": book["template"].pk, "contacts": ["a"]}, "contacts"),
        ({"template": typo.pk, "contacts": ids}, "template"),
    ):
        response = api.post(API, body, format="json", **key())
        assert response.status_code == 400, (body, response.content)
        assert field in response.content.decode(), (body, response.content)
    with alice.scope():
        assert not BulkEmail.objects.exists() and not Job.objects.exists()


def test_api_needs_the_crm_right_and_keeps_firms_apart(
    alice: Persona, charlie: Persona, book: dict[str, Any], firm_a: Any
) -> None:
    with alice.scope():
        email = _start(alice, book["template"], book["contacts"])
        clerk = UserFactory(firm=firm_a, email="eve@alpha.test", full_name="Eve", role=Role.STAFF,
                            rights=frozenset({Right.ACCOUNT_INFORMATION}))  # fmt: skip
    no_right = Persona(clerk, firm_a).api()
    assert no_right.get(API).status_code == 403
    assert (
        no_right.post(
            API, {"template": book["template"].pk, "contacts": [book["ann"].pk]}, format="json", **key()
        ).status_code
        == 403
    )
    outsider = charlie.api()
    assert outsider.get(f"{API}{email.pk}/").status_code == 404
    assert outsider.post(f"{API}{email.pk}/cancel/").status_code == 404
    assert outsider.get(API).json()["results"] == []
    with charlie.scope():
        mine = _template("service", "Beta news")
    body = {"template": mine.pk, "contacts": [book["ann"].pk]}
    assert outsider.post(API, body, format="json", **key()).status_code == 404
    assert alice.api().post(API, body, format="json", **key()).status_code == 404
    with alice.scope():
        assert BulkEmail.objects.count() == 1
        email.refresh_from_db()
        assert email.status == BulkStatus.QUEUED


# --- The pages ---------------------------------------------------------------------------------


def test_pages_plan_confirm_send_follow_and_cancel(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    ids = [c.pk for c in book["contacts"]]
    assert b"No bulk emails yet" in client.get(reverse("agenda:bulk-emails")).content
    chooser = client.get(reverse("agenda:bulk-email-new"))
    assert chooser.status_code == 200 and b"saved view" in chooser.content
    # From the contacts table's selection: who receives it and who is left out, before a template.
    planned = client.post(reverse("agenda:bulk-email-new"), {"ids": ids})
    text = planned.content.decode()
    assert planned.status_code == 200 and "5 selected contacts" in text
    assert "without an email address" in text and "sharing an address" in text
    assert 'name="action" value="send"' not in text  # no template yet: nothing to send
    # With a template: the first recipient's preview and a confirmation naming how many.
    preview = client.post(
        reverse("agenda:bulk-email-new"), {"contact": ids, "template": book["template"].pk, "action": "preview"}
    )
    text = preview.content.decode()
    assert "News for Ann" in text and "(Marketing)" in text and "unsubscribe link" in text
    assert "1 unsubscribed from marketing emails" in text
    assert 'data-confirm="Send to 2 contacts?"' in text and "Send to 2 contacts" in text
    form = {"contact": ids, "template": book["template"].pk, "action": "send"}
    refused = client.post(reverse("agenda:bulk-email-new"), form)  # a form without its one-time key
    assert refused.status_code == 400 and "This form has expired" in refused.content.decode()
    send_key = re.search(r'name="send_key" value="(\w+)"', text)
    assert send_key is not None
    sent = client.post(reverse("agenda:bulk-email-new"), {**form, "send_key": send_key[1]})
    with alice.scope():
        email = BulkEmail.objects.get()
    assert sent.status_code == 302 and sent["Location"] == reverse("agenda:bulk-email", args=[email.pk])
    # A second click (the same form again) shows the same bulk email and sends nothing more.
    twice = client.post(reverse("agenda:bulk-email-new"), {**form, "send_key": send_key[1]})
    assert twice.status_code == 302 and twice["Location"] == sent["Location"]
    with alice.scope():
        assert BulkEmail.objects.count() == 1 and Job.objects.count() == 1
    detail = client.get(sent["Location"]).content.decode()
    assert "News for {{ contact.first_name }}" in detail and "status: Queued" in detail and "Marketing" in detail
    assert "Left out: no email address" in detail and "Stop sending" in detail
    assert bulk_email.KIND not in detail and "staged" not in detail  # labels, not internal names
    panel = client.get(sent["Location"], HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and b'id="bulk-email"' in panel.content and b"<html" not in panel.content
    listed = client.get(reverse("agenda:bulk-emails")).content.decode()
    assert "5 selected contacts" in listed and "Queued" in listed
    cancelled = client.post(reverse("agenda:bulk-email-cancel", args=[email.pk]))
    assert cancelled.status_code == 302
    with alice.scope():
        email.refresh_from_db()
        assert email.status == BulkStatus.CANCELLED
    after = client.get(sent["Location"]).content.decode()
    assert "status: Cancelled" in after and "Stop sending" not in after
    again = client.post(reverse("agenda:bulk-email-cancel", args=[email.pk]), follow=True)
    assert "nothing to cancel" in again.content.decode()
    assert django_mail.outbox == []


def test_pages_keep_scope_and_firms_apart(alice: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        email = _start(alice, book["template"], book["contacts"])
    outsider = charlie.client()
    assert outsider.get(reverse("agenda:bulk-email", args=[email.pk])).status_code == 404
    assert outsider.post(reverse("agenda:bulk-email-cancel", args=[email.pk])).status_code == 404
    assert outsider.post(reverse("agenda:bulk-email-new"), {"ids": [book["ann"].pk]}).status_code == 404
    sent = outsider.post(
        reverse("agenda:bulk-email-new"),
        {"contact": [book["ann"].pk], "template": book["template"].pk, "action": "send", "send_key": "k1"},
    )
    assert sent.status_code == 404
    with alice.scope():
        email.refresh_from_db()
        assert email.status == BulkStatus.QUEUED and BulkEmail.objects.count() == 1


# --- The bench command ---------------------------------------------------------------------------


def test_the_bench_command_sends_to_the_file_backend_and_reports_what_it_wrote(
    alice: Persona, settings: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """``manage.py bench_bulk_email`` (the ``email_bulk_10k`` bench scenario) on a small book: every
    contact with an address gets one message, and the figures count what the file backend wrote."""
    import json

    from django.core.management import call_command

    # Settings the command changes for its run go to this test's overrides, undone afterwards.
    settings.DEBUG, settings.MAIL_RATE_PER_MINUTE = False, settings.MAIL_RATE_PER_MINUTE
    settings.EMAIL_FILE_PATH = str(tmp_path)
    with alice.scope():
        for n in range(4):
            ContactFactory(first_name=f"Reader{n}", email=f"reader{n}@example.test")
        ContactFactory(first_name="Nomail", email="")
    call_command("bench_bulk_email", "alpha", "3")
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["contacts"] == 3 and figures["status"] == JobStatus.DONE
    assert figures["sent"] == figures["written"] == 3 and figures["failed"] == 0
    with alice.scope():
        assert MessageTemplate.objects.filter(name="Bench newsletter").count() == 1
    call_command("bench_bulk_email", "alpha", "2")  # the template is reused
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["written"] == 2


def test_the_contacts_table_and_a_group_lead_to_a_bulk_email(alice: Persona, book: dict[str, Any]) -> None:
    """ "Email the selected" in the contacts table's bulk bar posts the selection (with the bar's
    other fields) to the plan; a group's page links to its plan."""
    client = alice.client()
    table = client.get(reverse("crm:contact-list")).content.decode()
    assert f'formaction="{reverse("agenda:bulk-email-new")}"' in table and "Email the selected" in table
    ids = [c.pk for c in book["contacts"][:2]]
    bar = {"action": "status", "status": "", "tag": "", "group": "", "field": ""}
    planned = client.post(reverse("agenda:bulk-email-new"), {"ids": ids, **bar})
    assert planned.status_code == 200 and "2 selected contacts" in planned.content.decode()
    with alice.scope():
        group = crm_services.group_create(actor=alice.user, name="Golfers")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=book["contacts"][:3])
    page = client.get(reverse("crm:group-detail", args=[group.pk])).content.decode()
    link = f"{reverse('agenda:bulk-email-new')}?group={group.pk}"
    assert link in page.replace("&amp;", "&")
    plan = client.get(link).content.decode()
    assert "Golfers" in plan and "3 contacts" in plan
    with alice.scope():
        email = _start(alice, book["template"], book["contacts"])
    detail = client.get(reverse("agenda:bulk-email", args=[email.pk])).content.decode()
    assert f"Bulk email: {book['template'].name}" in detail and "merge fields filled in for each contact" in detail
