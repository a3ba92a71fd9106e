"""The development outbox (advisorportal/mail/outbox.py, /dev/outbox/): the emails Django's file
backend wrote, listed newest first and shown with clickable links; ids that name anything but one of
the directory's own files are 404; never mounted in production."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from email.mime.image import MIMEImage
from pathlib import Path
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail
from django.http import Http404
from django.template import Context, Template
from django.test import Client, RequestFactory, TestCase, override_settings
from django.urls import Resolver404, clear_url_caches, resolve

from advisorportal.mail import outbox, outbox_views, services
from tests.conftest import Persona
from tests.factories import ContactFactory

LABEL = "Development outbox — not available in production"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

pytestmark = pytest.mark.django_db  # requests open a connection (the query-count middleware)


@pytest.fixture
def mail_dir(settings: Any, tmp_path: Path) -> Path:
    directory = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(directory)
    return directory


class Clock:
    """Gives each file the backend wrote or appended to a later modification time than the last,
    so "newest first" does not depend on the file system's timestamp granularity."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.now = 1_700_000_000
        self.sizes: dict[str, int] = {}
        # The file backend names a file by the time to the second and id() of its connection: a
        # freed connection's id comes back, and two emails of one second would share one file.
        self.connections: list[Any] = []

    def tick(self) -> None:
        self.now += 60
        for path in sorted(self.directory.glob("*.log")):
            size = path.stat().st_size
            if self.sizes.get(path.name) != size:
                os.utime(path, (self.now, self.now))
                self.sizes[path.name] = size


@pytest.fixture
def clock(mail_dir: Path) -> Clock:
    return Clock(mail_dir)


def mail(clock: Clock, subject: str, to: str, body: str = "Hello.", **headers: str) -> None:
    """One email through Django's file backend (its own connection, as send_mail opens one)."""
    connection = get_connection()
    clock.connections.append(connection)  # kept alive: each email gets a file of its own
    sender = "AdvisorPortal <no-reply@advisorportal.localhost>"
    EmailMessage(subject, body, sender, [to], headers=headers, connection=connection).send()
    clock.tick()


def subjects(html: str) -> list[str]:
    return re.findall(r'<a href="/dev/outbox/[^"]+/">([^<]+)</a>', html)


def detail_url(html: str, subject: str) -> str:
    match = re.search(r'<a href="(/dev/outbox/[^"]+/)">' + re.escape(subject) + "</a>", html)
    assert match, f"no link to {subject!r}"
    return match.group(1)


def test_the_list_shows_every_email_newest_first_without_signing_in(clock: Clock) -> None:
    mail(clock, "Welcome to Alpha Advisors", "ada@example.test")
    mail(clock, "Approve your transfer", "bob@example.test", **{outbox.CATEGORY_HEADER: "service"})
    mail(clock, "Quarterly newsletter", "cora@example.test")

    response = Client().get("/dev/outbox/")

    assert response.status_code == 200
    html = response.content.decode()
    assert LABEL in html
    assert subjects(html) == ["Quarterly newsletter", "Approve your transfer", "Welcome to Alpha Advisors"]
    assert "bob@example.test" in html and "no-reply@advisorportal.localhost" in html
    assert "<td>service</td>" in html  # the category header, where the message has one
    assert 'href="/dev/outbox/">Outbox (development)</a>' in html  # the footer link


def test_an_email_from_the_service_shows_headers_text_with_clickable_links_and_its_html(
    mail_dir: Path, alice: Persona
) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Cora", email="cora@example.test")
    with TestCase.captureOnCommitCallbacks(execute=True), alice.scope():
        services.email_send(
            to=contact.email,
            template="mail.generic",
            context={"contact": contact, "subject": "Your annual review", "body": "See https://example.test/review"},
            category="marketing",
            contact_id=contact.pk,
            actor=alice.user,
        )
    client = Client()

    listed = client.get("/dev/outbox/").content.decode()
    url = detail_url(listed, "Your annual review")
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert LABEL in html
    assert "<h1>Your annual review</h1>" in html
    assert "cora@example.test" in html and "Alpha Advisors" in html
    assert "alice@alpha.test" in html  # reply to the advisor
    assert "Dear Cora," in html
    assert '<a href="https://example.test/review"' in html  # the text part's links, clickable
    unsubscribe = re.search(r'<a href="(http://[^"]+/mail/unsubscribe/[^"]+/)"', html)
    assert unsubscribe, "the marketing email's unsubscribe link is clickable"
    assert f'<li><a href="{unsubscribe.group(1)}">' in html  # and listed among the HTML part's links
    assert f'<iframe class="outbox-frame" src="{url}html/" sandbox' in html
    assert "List-Unsubscribe" in html  # every header, in the details
    assert "<script" not in html.split("</head>")[1] and "style=" not in html  # the app's CSP holds

    frame = client.get(url + "html/")
    assert frame.status_code == 200
    assert frame["Content-Type"] == "text/html; charset=utf-8"
    policy = frame["Content-Security-Policy"]
    assert policy.startswith("sandbox; default-src 'none'; img-src data:")
    assert "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert "Alpha Advisors" in frame.content.decode() and "Dear Cora," in frame.content.decode()


def test_the_html_part_gets_its_own_images_as_data_uris(clock: Clock) -> None:
    message = EmailMultiAlternatives("With a logo", "Text.", "a@example.test", ["ada@example.test"])
    message.attach_alternative('<p><img src="cid:logo" alt="Logo"></p>', "text/html")
    message.mixed_subtype = "related"
    image = MIMEImage(PNG)
    image.add_header("Content-ID", "<logo>")
    message.attach(image)
    message.send()
    clock.tick()
    client = Client()
    url = detail_url(client.get("/dev/outbox/").content.decode(), "With a logo")

    frame = client.get(url + "html/").content.decode()

    assert 'src="data:image/png;base64,' in frame and "cid:logo" not in frame


def test_search_filters_by_recipient_or_subject(clock: Clock) -> None:
    mail(clock, "Welcome", "ada@example.test")
    mail(clock, "Approve your transfer", "bob@example.test")
    mail(clock, "Reminder", "Ada.Lovelace@Example.test")
    client = Client()

    assert subjects(client.get("/dev/outbox/", {"q": "ada"}).content.decode()) == ["Reminder", "Welcome"]
    assert subjects(client.get("/dev/outbox/", {"q": "  TRANSFER "}).content.decode()) == ["Approve your transfer"]
    none = client.get("/dev/outbox/", {"q": "nobody"}).content.decode()
    assert subjects(none) == [] and "No email to or about “nobody”" in none
    assert outbox.list_messages(query="ada").scanned == 3


def test_a_log_file_with_several_messages_lists_each(clock: Clock) -> None:
    with get_connection() as connection:  # one connection: one file, three messages
        connection.send_messages(
            [
                EmailMessage("First of three", "One.", "a@example.test", ["ada@example.test"]),
                EmailMessage(
                    "Second of three", "Two.\n" + "-" * 79 + "\nstill two", "a@example.test", ["b@example.test"]
                ),
                EmailMessage("Third of three", "Three.", "a@example.test", ["c@example.test"]),
            ]
        )
    clock.tick()
    assert len(list(clock.directory.glob("*.log"))) == 1
    client = Client()

    listed = client.get("/dev/outbox/").content.decode()

    assert subjects(listed) == ["Third of three", "Second of three", "First of three"]
    second = client.get(detail_url(listed, "Second of three")).content.decode()
    assert "<h1>Second of three</h1>" in second and "still two" in second  # a body line of dashes is no separator
    assert "<h1>First of three</h1>" in client.get(detail_url(listed, "First of three")).content.decode()


def test_the_list_shows_the_newest_200(clock: Clock) -> None:
    with get_connection() as connection:
        connection.send_messages(
            [EmailMessage(f"Message {n}", "Hi.", "a@example.test", ["ada@example.test"]) for n in range(205)]
        )
    clock.tick()

    listing = outbox.list_messages()

    assert len(listing.messages) == outbox.LIST_LIMIT == 200 and listing.more
    assert listing.messages[0].subject == "Message 204" and listing.messages[-1].subject == "Message 5"
    assert "the newest 200" in Client().get("/dev/outbox/").content.decode()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_no_emails_shows_an_empty_state(mail_dir: Path, state: str) -> None:
    if state == "empty":
        mail_dir.mkdir()
        (mail_dir / "notes.txt").write_text("not an email")

    response = Client().get("/dev/outbox/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "No emails yet." in html and LABEL in html and "<table" not in html


@pytest.fixture
def one_email(clock: Clock, tmp_path: Path) -> str:
    message = EmailMultiAlternatives("The only one", "Text.", "a@example.test", ["ada@example.test"])
    message.attach_alternative("<p>HTML.</p>", "text/html")
    message.send()
    clock.tick()
    (tmp_path / "outside.log").write_bytes((clock.directory / next(iter(clock.sizes))).read_bytes())
    os.symlink(tmp_path / "outside.log", clock.directory / "linked.log")
    return outbox.list_messages().messages[0].id


@pytest.mark.parametrize(
    "message_id",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "..%2Foutside~0",
        "..~0",
        "outside~0",  # a file outside the directory
        "linked~0",  # a link in the directory to it
        "x%00~0",
        "nothing-here~0",
        "{valid}%00",
        "{valid}~1",  # past the file's last message
        "{valid}~-1",
        "{valid}",
    ],
)
@pytest.mark.parametrize("suffix", ["", "html/"])
def test_ids_that_name_no_stored_message_are_404(one_email: str, message_id: str, suffix: str) -> None:
    name = one_email.split("~")[0]
    url = f"/dev/outbox/{message_id.replace('{valid}', name)}/{suffix}"

    assert Client().get(url).status_code == 404
    assert Client().get(f"/dev/outbox/{one_email}/{suffix}").status_code == 200


@pytest.mark.parametrize("message_id", ["../outside~0", "/etc/passwd~0", "linked~0", "x\x00~0", None, 7, "~0"])
def test_read_message_takes_only_the_directory_s_own_names(one_email: str, message_id: Any) -> None:
    assert outbox.read_message(message_id) is None
    assert outbox.read_message(one_email) is not None
    assert [m.id for m in outbox.list_messages().messages] == [one_email]  # the link is not listed


def test_the_outbox_answers_only_reads(clock: Clock) -> None:
    mail(clock, "Read only", "ada@example.test")
    message_id = outbox.list_messages().messages[0].id

    assert Client().post("/dev/outbox/").status_code == 405
    assert Client().delete(f"/dev/outbox/{message_id}/").status_code == 405


@pytest.fixture
def production_urls() -> Iterator[None]:
    """The root urlconf as production builds it; restored afterwards."""
    import advisorportal.urls

    try:
        with override_settings(PRODUCTION=True):
            importlib.reload(advisorportal.urls)
            clear_url_caches()
            yield
    finally:
        importlib.reload(advisorportal.urls)
        clear_url_caches()


def test_production_mounts_no_outbox(production_urls: None) -> None:
    for path in ("/dev/outbox/", "/dev/outbox/20250101-101010-1~0/", "/dev/outbox/20250101-101010-1~0/html/"):
        with pytest.raises(Resolver404):
            resolve(path)
    assert Template("{% load outbox %}[{% outbox_link %}]").render(Context({})) == "[]"
    resolve("/login/")  # the rest is still there


def test_development_mounts_the_outbox_and_the_views_refuse_in_production(clock: Clock) -> None:
    assert resolve("/dev/outbox/").func is outbox_views.outbox_list
    mail(clock, "Not in production", "ada@example.test")
    message_id = outbox.list_messages().messages[0].id
    request = RequestFactory().get("/dev/outbox/")
    with override_settings(PRODUCTION=True):
        for view, args in ((outbox_views.outbox_list, ()), (outbox_views.outbox_detail, (message_id,))):
            with pytest.raises(Http404):
                view(request, *args)
        assert Template("{% load outbox %}[{% outbox_link %}]").render(Context({})) == "[]"


def test_django_outbox_is_not_used_here(clock: Clock) -> None:
    """The file backend, not locmem: what the page lists is what development really writes."""
    send_mail("Through send_mail", "Body.", "a@example.test", ["ada@example.test"])
    clock.tick()
    assert not getattr(django_mail, "outbox", [])
    assert [m.subject for m in outbox.list_messages().messages] == ["Through send_mail"]
