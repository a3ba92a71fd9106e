"""One date format per user (issue #13, point 10): the helpers per choice, the user's choice or else
the firm's on pages, exports and the client PDF, the settings page, and a grep that keeps templates
off explicit date formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import AuditEntry, Firm, User
from advisorportal.formats import DateFormat, clock, date_format_used, date_style, day, moment, month_day
from tests.conftest import Persona
from tests.factories import ContactFactory

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 12, 4)
MOMENT = dt.datetime(2026, 12, 4, 19, 4, tzinfo=dt.UTC)

EXPECTED = {
    "us_name": ("Dec 4, 2026", "Dec 4, 2026, 7:04 PM", "7:04 PM", "Dec 4"),
    "us_numeric": ("12/04/2026", "12/04/2026 7:04 PM", "7:04 PM", "12/04"),
    "day_first": ("04/12/2026", "04/12/2026 19:04", "19:04", "04/12"),
    "iso": ("2026-12-04", "2026-12-04 19:04", "19:04", "12-04"),
}


def test_every_choice_has_its_expectation() -> None:
    assert set(EXPECTED) == set(DateFormat.values)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_helpers_format_a_date_and_a_datetime_per_choice(code: str) -> None:
    shown_day, shown_moment, shown_clock, shown_month_day = EXPECTED[code]
    with date_format_used(code):
        assert day(DAY) == shown_day and day(MOMENT) == shown_day
        assert moment(MOMENT) == shown_moment
        assert clock(MOMENT) == clock(MOMENT.time()) == shown_clock
        assert month_day(DAY) == shown_month_day
        assert moment(DAY) == shown_day  # a plain date has no time to show
    assert day(DAY, code) == shown_day  # named explicitly, whatever is in use


def test_datetimes_in_the_current_time_zone_and_blanks_stay_blank() -> None:
    with date_format_used("iso"), timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert moment(MOMENT) == "2026-12-04 14:04"
        assert day(dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)) == "2026-12-04"
    assert day(None) == moment("") == clock(None) == ""
    assert date_style("nonsense").code == "us_name"  # an unknown code falls back to the default


def _set(persona: Persona, *, user: str | None = None, firm: str | None = None) -> None:
    with persona.scope():
        if user is not None:
            User.objects.filter(pk=persona.user.pk).update(date_format=user)
        if firm is not None:
            Firm.objects.filter(pk=persona.firm.pk).update(date_format=firm)


@pytest.fixture
def contact(alice: Persona) -> Any:
    with alice.scope():
        return ContactFactory(
            first_name="Dora", last_name="Dates", next_review=DAY, client_since=dt.date(2015, 6, 1),
            date_of_birth=dt.date(1971, 3, 4),
        )  # fmt: skip


@pytest.mark.django_db
def test_the_users_choice_changes_the_contact_page(alice: Persona, contact: Any) -> None:
    url = f"/contacts/{contact.pk}/"
    assert "Dec 4, 2026" in alice.client().get(url).content.decode()  # nobody chose: the default
    _set(alice, user="iso")
    page = alice.client().get(url).content.decode()
    assert "2026-12-04" in page and "2015-06-01" in page and "Dec 4, 2026" not in page
    _set(alice, user="day_first")
    page = alice.client().get(url).content.decode()
    assert "04/12/2026" in page and "04/03/1971" in page


@pytest.mark.django_db
def test_the_firm_default_applies_to_a_user_with_no_choice(alice: Persona, bob: Persona, contact: Any) -> None:
    _set(alice, user="iso", firm="day_first")
    url = f"/contacts/{contact.pk}/"
    assert "04/12/2026" in bob.client().get(url).content.decode()  # Bob chose none: the firm's
    assert "2026-12-04" in alice.client().get(url).content.decode()  # Alice's own wins


@pytest.mark.django_db
def test_the_audit_trail_follows_the_choice(alice: Persona, contact: Any) -> None:
    _set(alice, user="us_numeric")
    page = alice.client().get(reverse("accounts:audit")).content.decode()
    with alice.scope():
        entry = AuditEntry.objects.order_by("-id").first()
    assert entry is not None
    assert moment(entry.created_at, "us_numeric") in page
    assert f'datetime="{entry.created_at.isoformat()}"' in page  # the machine attribute stays ISO


@pytest.mark.django_db
def test_the_settings_page_previews_and_saves_the_choice(alice: Persona, bob: Persona) -> None:
    client = alice.client()
    page = client.get(reverse("accounts:settings")).content.decode()
    today = timezone.localdate()
    for code in EXPECTED:
        assert day(today, code) in page  # a preview of today in each choice
    assert "firm-date-format" in page  # Alice manages users: she may set the firm's too

    assert client.post(reverse("accounts:date-format"), {"date_format": "iso"}).status_code == 302
    with alice.scope():
        assert User.objects.get(pk=alice.user.pk).date_format == "iso"
    client.post(reverse("accounts:date-format"), {"date_format": "nonsense"})
    client.post(reverse("accounts:date-format"), {"date_format": ""})  # back to the firm's
    with alice.scope():
        assert User.objects.get(pk=alice.user.pk).date_format == ""

    assert client.post(reverse("accounts:firm-date-format"), {"date_format": "day_first"}).status_code == 302
    with alice.scope():
        assert Firm.objects.get(pk=alice.firm.pk).date_format == "day_first"
        assert AuditEntry.objects.filter(object_type="accounts.firm", changes__has_key="date_format").exists()
    assert client.post(reverse("accounts:firm-date-format"), {"date_format": ""}).status_code == 302
    with alice.scope():
        assert Firm.objects.get(pk=alice.firm.pk).date_format == "day_first"  # the firm needs one

    bob_client = bob.client()
    assert "firm-date-format" not in bob_client.get(reverse("accounts:settings")).content.decode()
    assert bob_client.post(reverse("accounts:firm-date-format"), {"date_format": "iso"}).status_code == 403
    with alice.scope():
        assert Firm.objects.get(pk=alice.firm.pk).date_format == "day_first"


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.mark.django_db
def test_exports_follow_the_choice_and_the_importable_csv_stays_iso(alice: Persona, contact: Any) -> None:
    _set(alice, user="day_first")
    with alice.scope():
        applying = ContactFactory(first_name="Ann", last_name="Applying", status="application_started")
    client = alice.client()
    tasks = _csv(client.get(reverse("contact_io:export-tasks")))
    assert tasks[1][-1] == day(applying.updated_at, "day_first")

    # The summary CSV is read back by the contacts import, which reads only unambiguous dates.
    summary = _csv(client.get(reverse("contact_io:export-summary")))
    row = next(r for r in summary if r[1] == "Dora Dates")
    assert row[summary[0].index("Next review")] == "2026-12-04"

    sheet = load_workbook(io.BytesIO(b"".join(client.get(reverse("contact_io:export-full")).streaming_content)))
    rows = sheet["Contacts"]
    header = [c.value for c in rows[1]]
    line = next(r for r in rows.iter_rows(min_row=2) if r[header.index("Last name")].value == "Dates")
    review = line[header.index("Next review")]
    assert review.is_date and review.value.date() == DAY and review.number_format == "dd/mm/yyyy"
    created = line[header.index("Created")]
    assert created.is_date and created.number_format == "dd/mm/yyyy hh:mm"


@pytest.mark.django_db
def test_the_client_pdf_follows_the_choice(alice: Persona, contact: Any) -> None:
    url = f"/contacts/{contact.pk}/client-information.pdf"
    for code, born, since in (("iso", "1971-03-04", "2015-06-01"), ("us_numeric", "03/04/1971", "06/01/2015")):
        _set(alice, user=code)
        response = alice.client().get(url)
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
        assert born in text and since in text, code


# --- The rule: templates name no date format -----------------------------------------------------

# What may still name a format: machine values (ISO in <input type=date> values and datetime=
# attributes, Unix seconds compared for "edited"), and month headings (a month and year, no day).
ALLOWED = (
    re.compile(r"""value="\{\{ [\w.]+\|date:['"]Y-m-d['"] \}\}\""""),
    re.compile(r"""datetime="\{\{ [\w.]+\|date:['"]c['"] \}\}\""""),
    re.compile(r"""\|date:['"]U['"]"""),
    re.compile(r"""\|date:['"]YEAR_MONTH_FORMAT['"]"""),
)
DATE_FILTER = re.compile(r"""\|(date|time)(:['"][^'"]*['"])?(?=\s*(\}\}|\||%\}| ))""")
PENDING: set[str] = set()  # templates not converted yet: none
SKIPPED_DIRS = {".venv", "node_modules", "staticfiles", "var", ".git"}


def _templates() -> list[Path]:
    return [p for p in ROOT.rglob("*.html") if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)]


def test_templates_use_the_date_filters_not_explicit_formats() -> None:
    offences = []
    for path in _templates():
        name = str(path.relative_to(ROOT))
        if name in PENDING or name.startswith("advisorportal/mail/"):
            continue
        text = path.read_text()
        for allowed in ALLOWED:
            text = allowed.sub("", text)
        for match in DATE_FILTER.finditer(text):
            line = text[: match.start()].count("\n") + 1
            offences.append(f"{name}:{line}: {match.group(0)}")
    assert not offences, "Use |day, |moment, |clock or |month_day ({% load formats %}):\n" + "\n".join(offences)


DJANGO_DATE_FORMAT = re.compile(r"formats import (date|time)_format\b|formats\.(date|time)_format\(")


def test_python_formats_dates_through_the_floor() -> None:
    """Django's ``date_format`` ignores the user's choice; app code uses ``advisorportal.formats``."""
    apps = ("accounts", "crm", "portfolios", "funding", "billing", "reports", "onboarding", "advisorportal")
    offences = [
        str(path.relative_to(ROOT))
        for app in apps
        if (ROOT / app).exists()
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and DJANGO_DATE_FORMAT.search(path.read_text())
    ]
    assert not offences, offences


@pytest.mark.django_db
def test_the_api_reads_and_sets_the_choice_and_keeps_iso(alice: Persona, contact: Any) -> None:
    api = alice.api()
    me = api.get("/api/v1/me/").json()
    assert me["date_format"] == "" and me["firm_date_format"] == "us_name"
    assert api.patch("/api/v1/me/", {"date_format": "iso"}, format="json").json()["date_format"] == "iso"
    bad = api.patch("/api/v1/me/", {"date_format": "nonsense"}, format="json")
    assert bad.status_code == 400 and "date_format" in bad.json()["error"]["fields"]
    _set(alice, user="day_first")
    body = api.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert body["next_review"] == "2026-12-04"  # machine formats stay ISO 8601
