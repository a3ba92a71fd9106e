"""The registry of email templates. Each app registers the templates it sends in its
``AppConfig.ready``::

    from advisorportal.mail import templates

    templates.register(
        "agenda.task_reminder",
        label="Task reminder",
        subject="Reminder: {{ task.title }}",
        html="agenda/email/task_reminder.html",
        text="agenda/email/task_reminder.txt",
    )

``subject`` is a template string (one line); ``html`` and ``text`` name template files. The HTML
template usually extends ``mail/email/base.html`` (the firm's logo, colours and footer). Every
variable a template uses must be in the context the sender passes (plus what the service adds:
``brand``, ``firm``, ``advisor``, ``unsubscribe_url``); an unknown one refuses the message.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = {
    "service": "Service",  # approvals, statements, reminders: always delivered, no unsubscribe link
    "marketing": "Marketing",  # newsletters, campaigns: carry an unsubscribe link, skip opted-out contacts
}


@dataclass(frozen=True)
class MailTemplate:
    code: str
    subject: str
    html: str
    text: str
    label: str = ""


_TEMPLATES: dict[str, MailTemplate] = {}


def register(code: str, *, subject: str, html: str, text: str, label: str = "") -> MailTemplate:
    """Register (or, for the same code, replace) the template ``code``, e.g. ``agenda.task_reminder``."""
    if not code or len(code) > 80:
        raise ValueError(f"A template code has 1 to 80 characters: {code!r}.")
    if "\n" in subject:
        raise ValueError("A subject is one line.")
    template = MailTemplate(code=code, subject=subject, html=html, text=text, label=label or code)
    _TEMPLATES[code] = template
    return template


def registered(code: str) -> bool:
    return code in _TEMPLATES


def get(code: str) -> MailTemplate:
    try:
        return _TEMPLATES[code]
    except KeyError:
        raise LookupError(f"No email template {code!r} is registered (is its app installed?).") from None


def all_templates() -> list[MailTemplate]:
    return sorted(_TEMPLATES.values(), key=lambda t: t.label)
