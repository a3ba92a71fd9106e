"""Message templates and individual emails (advisorportal/mail/message_templates.py,
crm/agenda/emails.py and their pages and API): save with the merge-field check, copy, delete;
write to a contact from a template or from scratch, preview, send once; who sees which email;
outsiders. Emails go to Django's locmem backend."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.rights import Right, Role
from advisorportal.mail import message_templates, services, templates
from advisorportal.mail.models import BulkEmail, EmailStatus, MessageTemplate, OutgoingEmail
from crm.agenda import bulk_email, emails
from tests.conftest import Persona, staff_scoped_to
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

REVIEW = {
    "name": "Annual review", "category": "service", "subject": "Your review, {{ contact.first_name }}",
    "body": "Dear {{ contact.first_name }},\n\nTime for your review.\n\n{{ advisor.signature }}",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    with alice.scope():
        ann = ContactFactory(first_name="Ann", last_name="Archer", email="ann@example.test")
        nia = ContactFactory(first_name="Nia", email="")
        template = message_templates.message_template_save(actor=alice.user, data=REVIEW, sample=bulk_email.SAMPLE)
    return {"ann": ann, "nia": nia, "template": template}


def key() -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}


# --- Message templates -----------------------------------------------------------------------


def test_a_template_with_an_unknown_merge_field_is_refused_naming_it(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        for field, value in (("subject", "Hi {{ contact.frist_name }}"), ("body", "Dear {{ contact.nickname }}")):
            with pytest.raises(ValidationError) as caught:
                message_templates.message_template_save(
                    actor=alice.user, data={**REVIEW, "name": "Typo", field: value}, sample=bulk_email.SAMPLE
                )
            assert (field in caught.value.message_dict and "frist_name" in str(caught.value)) or "nickname" in str(
                caught.value
            )
        with pytest.raises(ValidationError) as caught:
            message_templates.message_template_save(
                actor=alice.user, data={**REVIEW, "name": "annual REVIEW"}, sample=bulk_email.SAMPLE
            )
        assert "name" in caught.value.message_dict
        with pytest.raises(ValidationError) as caught:
            message_templates.message_template_save(
                actor=alice.user,
                data={**REVIEW, "name": "Tags", "body": "{% load static %}x"},
                sample=bulk_email.SAMPLE,
            )
        assert "body" in caught.value.message_dict
        assert MessageTemplate.objects.count() == 1


def test_copy_and_delete_and_a_used_template_stays(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        copy = message_templates.message_template_copy(
            actor=alice.user, template=book["template"], sample=bulk_email.SAMPLE
        )
        again = message_templates.message_template_copy(
            actor=alice.user, template=book["template"], sample=bulk_email.SAMPLE
        )
        assert (copy.name, again.name) == ("Annual review (copy)", "Annual review (copy 2)")
        assert copy.body == book["template"].body
        message_templates.message_template_delete(actor=alice.user, template=again)
        from crm import selectors as crm_selectors

        bulk_email.bulk_email_start(
            actor=alice.user, template=copy, selection=crm_selectors.contact_selection(
                user=alice.user, contacts=[book["ann"].pk])
        )  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            message_templates.message_template_delete(actor=alice.user, template=copy)
        assert "1 bulk email" in str(caught.value)
        assert set(MessageTemplate.objects.values_list("name", flat=True)) == {"Annual review", "Annual review (copy)"}
        assert BulkEmail.objects.count() == 1


# --- Individual emails -----------------------------------------------------------------------


def test_send_from_a_template_with_the_contacts_fields_then_deliver(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        email = emails.contact_email_send(actor=alice.user, contact=book["ann"], template=book["template"])
        assert (email.status, email.to, email.contact_id) == (EmailStatus.QUEUED, "ann@example.test", book["ann"].pk)
        assert email.template == f"firm:{book['template'].pk}" and email.subject == "Your review, Ann"
        assert "Alice Able" in email.text_body
        assert services.email_deliver(email_id=email.pk) is True
        email.refresh_from_db()
        assert email.status == EmailStatus.SENT
    assert [m.to for m in django_mail.outbox] == [["ann@example.test"]]
    assert (
        django_mail.outbox[0].subject == "Your review, Ann"
        and "List-Unsubscribe" not in django_mail.outbox[0].extra_headers
    )


def test_a_written_or_edited_email_and_bad_input(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        written = emails.contact_email_send(
            actor=alice.user, contact=book["ann"], subject="Quick note", body="Hi {{ contact.first_name }}!",
            category="marketing",
        )  # fmt: skip
        assert (written.template, written.category, written.text_body.startswith("Hi Ann!")) == (
            "written", "marketing", True
        )  # fmt: skip
        assert "unsubscribe" in written.text_body.lower()
        edited = emails.contact_email_send(
            actor=alice.user, contact=book["ann"], template=book["template"], subject="Changed {{ contact.last_name }}"
        )
        assert (edited.template, edited.subject) == ("written", "Changed Archer")
        before = OutgoingEmail.objects.count()
        for kwargs, field in (
            ({"contact": book["nia"], "template": book["template"]}, "to"),
            ({"contact": book["ann"], "subject": "Hi {{ contact.frist_name }}", "body": "x"}, "subject"),
            ({"contact": book["ann"], "subject": "", "body": "x"}, "subject"),
            ({"contact": book["ann"], "subject": "Two\nlines", "body": "x"}, "subject"),
            ({"contact": book["ann"], "subject": "Hi", "body": "  "}, "body"),
            ({"contact": book["ann"], "subject": "Hi", "body": "x", "category": "news"}, "category"),
        ):
            with pytest.raises(ValidationError) as caught:
                emails.contact_email_send(actor=alice.user, **kwargs)
            assert field in caught.value.message_dict, (kwargs, caught.value)
        assert OutgoingEmail.objects.count() == before
        services.unsubscribe(firm_id=alice.firm.pk, email="ann@example.test")
        skipped = emails.contact_email_send(actor=alice.user, contact=book["ann"], subject="News", body="x",
                                            category="marketing")  # fmt: skip
        assert skipped.status == EmailStatus.SKIPPED


def test_who_sees_which_email_and_product_emails_hide_their_body(firm_a: Any, alice: Persona) -> None:
    with alice.scope():
        inside = ContactFactory(email="in@example.test")
        outside = ContactFactory(email="out@example.test")
        dana = staff_scoped_to(alice, [inside]).user
        to_in = emails.contact_email_send(actor=alice.user, contact=inside, subject="In", body="x")
        to_out = emails.contact_email_send(actor=alice.user, contact=outside, subject="Out", body="x")
        templates.register("tests.private", subject="Your link", html="mail/email/generic.html",
                           text="mail/email/generic.txt")  # fmt: skip
        private = services.email_send(
            to="in@example.test", template="tests.private", contact_id=inside.pk,
            context={"contact": inside, "subject": "Your link", "body": "https://x.test/secret-link"},
        )  # fmt: skip
        system = services.email_send(to="new@alpha.test", template="tests.private",
                                     context={"contact": {"first_name": "New"}, "subject": "Hi",
                                              "body": "https://x.test/invite"})  # fmt: skip
        assert set(emails.emails_for(user=dana)) == {to_in, private}
        # Not the product's own emails to nobody's contact (an invitation's link is its recipient's).
        assert set(emails.emails_for(user=alice.user)) == {to_in, to_out, private}
        assert system not in emails.emails_for(user=alice.user)
        with pytest.raises(OutgoingEmail.DoesNotExist):
            emails.email_get(user=dana, pk=to_out.pk)
        assert emails.body_visible(to_in) and not emails.body_visible(private)
    page = Persona(dana, firm_a).client().get(reverse("agenda:email", args=[private.pk])).content.decode()
    assert "Your link" in page and "secret-link" not in page and "its message is not shown" in page


# --- Pages -----------------------------------------------------------------------------------


def test_template_pages_create_preview_edit_copy_delete(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    listing = client.get(reverse("agenda:message-templates"))
    assert listing.status_code == 200 and "Annual review" in listing.content.decode()
    data = {"name": "Welcome", "category": "service", "subject": "Welcome, {{ contact.first_name }}",
            "body": "Dear {{ contact.first_name }}, welcome.\n{{ advisor.signature }}"}  # fmt: skip
    preview = client.post(reverse("agenda:message-template-new"), {**data, "action": "preview"})
    assert preview.status_code == 200 and "Welcome, Ann" in preview.content.decode()
    bad = client.post(reverse("agenda:message-template-new"), {**data, "body": "{{ contact.frist_name }}"})
    assert bad.status_code == 400 and "frist_name" in bad.content.decode()
    created = client.post(reverse("agenda:message-template-new"), data)
    assert created.status_code == 302
    with alice.scope():
        welcome = MessageTemplate.objects.get(name="Welcome")
    page = reverse("agenda:message-template", args=[welcome.pk])
    assert client.post(page, {**data, "subject": "Hello"}).status_code == 302
    copied = client.post(page, {"action": "copy"})
    assert copied.status_code == 302
    deleted = client.post(page, {"action": "delete"})
    assert deleted.status_code == 302
    with alice.scope():
        assert set(MessageTemplate.objects.values_list("name", "subject")) == {
            ("Annual review", REVIEW["subject"]), ("Welcome (copy)", "Hello")
        }  # fmt: skip
    assert client.get(reverse("agenda:message-template", args=[welcome.pk])).status_code == 404


def test_compose_page_prefills_previews_and_sends_once(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    url = reverse("agenda:contact-email", args=[book["ann"].pk])
    form = client.get(url, {"template": book["template"].pk})
    text = form.content.decode()
    assert form.status_code == 200 and "Your review, {{ contact.first_name }}" in text and "ann@example.test" in text
    post = {"template": book["template"].pk, "category": "service", "subject": REVIEW["subject"],
            "body": REVIEW["body"], "send_key": uuid.uuid4().hex}  # fmt: skip
    preview = client.post(url, {**post, "action": "preview"})
    assert preview.status_code == 200 and "Your review, Ann" in preview.content.decode()
    bad = client.post(url, {**post, "action": "send", "subject": "{{ contact.frist_name }}"})
    assert bad.status_code == 400 and "frist_name" in bad.content.decode()
    sent = client.post(url, {**post, "action": "send"})
    again = client.post(url, {**post, "action": "send"})
    assert sent.status_code == again.status_code == 302 and sent["Location"] == again["Location"]
    with alice.scope():
        email = OutgoingEmail.objects.get()
    assert sent["Location"] == reverse("agenda:email", args=[email.pk])
    detail = client.get(sent["Location"]).content.decode()
    assert "Your review, Ann" in detail and "Time for your review." in detail and "Queued" in detail
    listing = client.get(reverse("agenda:emails"), {"status": "queued"}).content.decode()
    assert "Your review, Ann" in listing
    no_address = client.get(reverse("agenda:contact-email", args=[book["nia"].pk])).content.decode()
    assert "has no email address" in no_address


def test_pages_and_api_keep_outsiders_out(alice: Persona, charlie: Persona, book: dict[str, Any], firm_a: Any) -> None:
    with alice.scope():
        email = emails.contact_email_send(actor=alice.user, contact=book["ann"], template=book["template"])
        clerk = UserFactory(firm=firm_a, email="eve@alpha.test", full_name="Eve", role=Role.STAFF,
                            rights=frozenset({Right.ACCOUNT_INFORMATION}))  # fmt: skip
    outsider = charlie.client()
    for url in (
        reverse("agenda:contact-email", args=[book["ann"].pk]),
        reverse("agenda:email", args=[email.pk]),
        reverse("agenda:message-template", args=[book["template"].pk]),
    ):
        assert outsider.get(url).status_code == 404, url
    post = {"action": "send", "subject": "Hi", "body": "x", "category": "service", "send_key": uuid.uuid4().hex}
    assert outsider.post(reverse("agenda:contact-email", args=[book["ann"].pk]), post).status_code == 404
    assert outsider.post(reverse("agenda:message-template", args=[book["template"].pk]),
                         {"action": "delete"}).status_code == 404  # fmt: skip
    api = charlie.api()
    assert api.get(f"/api/v1/emails/{email.pk}/").status_code == 404
    assert api.get("/api/v1/emails/").json()["results"] == []
    assert api.get("/api/v1/message-templates/").json()["results"] == []
    assert api.get(f"/api/v1/emails/?contact={book['ann'].pk}").status_code == 404
    assert api.delete(f"/api/v1/message-templates/{book['template'].pk}/").status_code == 404
    assert api.post("/api/v1/emails/", {"contact": book["ann"].pk, "subject": "Hi", "body": "x"}, format="json",
                    **key()).status_code == 404  # fmt: skip
    with charlie.scope():
        theirs = message_templates.message_template_save(
            actor=charlie.user, data={**REVIEW, "name": "Beta"}, sample=bulk_email.SAMPLE
        )
    assert alice.api().post("/api/v1/emails/", {"contact": book["ann"].pk, "template": theirs.pk}, format="json",
                            **key()).status_code == 404  # fmt: skip
    no_right = Persona(clerk, firm_a)
    assert no_right.api().get("/api/v1/emails/").status_code == 403
    assert no_right.client().get(reverse("agenda:message-templates")).status_code == 403
    with alice.scope():
        assert OutgoingEmail.objects.count() == 1 and MessageTemplate.objects.count() == 1


# --- API -------------------------------------------------------------------------------------


def test_api_templates_crud_copy_and_preview(alice: Persona, book: dict[str, Any]) -> None:
    api = alice.api()
    listed = api.get("/api/v1/message-templates/").json()["results"]
    assert [t["name"] for t in listed] == ["Annual review"]
    created = api.post("/api/v1/message-templates/", {**REVIEW, "name": "Seminar", "category": "marketing"},
                       format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    bad = api.patch(f"/api/v1/message-templates/{pk}/", {"body": "{{ contact.frist_name }}"}, format="json")
    assert bad.status_code == 400 and "body" in bad.json()["error"]["fields"] and "frist_name" in bad.content.decode()
    renamed = api.patch(f"/api/v1/message-templates/{pk}/", {"subject": "Seminar for {{ contact.last_name }}"},
                        format="json")  # fmt: skip
    assert renamed.status_code == 200 and renamed.json()["subject"] == "Seminar for {{ contact.last_name }}"
    preview = api.post(f"/api/v1/message-templates/{pk}/preview/", {"contact": book["ann"].pk}, format="json")
    assert preview.status_code == 200 and preview.json()["subject"] == "Seminar for Archer"
    assert "unsubscribe" in preview.json()["text"].lower() and "<html" in preview.json()["html"].lower()
    sample = api.post("/api/v1/message-templates/preview/", {"subject": "Hi {{ contact.first_name }}", "body": "x"},
                      format="json")  # fmt: skip
    assert sample.status_code == 200 and sample.json()["subject"] == "Hi Ann"
    copy = api.post(f"/api/v1/message-templates/{pk}/copy/")
    assert copy.status_code == 201 and copy.json()["name"] == "Seminar (copy)"
    assert api.delete(f"/api/v1/message-templates/{copy.json()['id']}/").status_code == 204
    dup = api.post("/api/v1/message-templates/", {**REVIEW, "name": "seminar"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["error"]["fields"]


def test_api_sends_once_per_key_lists_and_filters(alice: Persona, book: dict[str, Any]) -> None:
    api = alice.api()
    body = {"contact": book["ann"].pk, "template": book["template"].pk}
    assert api.post("/api/v1/emails/", body, format="json").status_code == 400  # no Idempotency-Key
    header = key()
    first = api.post("/api/v1/emails/", body, format="json", **header)
    again = api.post("/api/v1/emails/", body, format="json", **header)
    assert (first.status_code, again.status_code) == (201, 201), first.content
    assert again.json()["id"] == first.json()["id"] and first.json()["subject"] == "Your review, Ann"
    assert first.json()["status"] == "queued" and first.json()["text_body"].startswith("Dear Ann")
    for bad, field in (
        ({"contact": book["nia"].pk, "template": book["template"].pk}, "to"),
        ({"contact": book["ann"].pk, "subject": "Hi {{ contact.frist_name }}", "body": "x"}, "subject"),
        ({"contact": book["ann"].pk}, "subject"),
    ):
        response = api.post("/api/v1/emails/", bad, format="json", **key())
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (bad, response.content)
    with alice.scope():
        assert OutgoingEmail.objects.count() == 1
    assert [e["id"] for e in api.get(f"/api/v1/emails/?contact={book['ann'].pk}").json()["results"]] == [
        first.json()["id"]
    ]
    assert api.get("/api/v1/emails/?status=sent").json()["results"] == []
    assert api.get("/api/v1/emails/?status=nonsense").status_code == 400
