"""Rendering an email: subject, text and HTML from a registered template (or a firm's own
subject and body), after checking that every merge field the template uses exists in the context.

The check walks the compiled templates for ``{{ variable }}`` nodes and resolves each one against
the context: a field that does not resolve (``{{ contact.frist_name }}``) refuses the message with
its name, instead of Django's silent empty string. Names bound by ``{% for %}`` inside the template
are left to the loop."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.template import Context, Engine, Template, TemplateSyntaxError, Variable, VariableDoesNotExist
from django.template.base import VariableNode
from django.template.defaulttags import ForNode
from django.template.loader import get_template

from advisorportal.mail import templates


class MergeFieldError(ValueError):
    """A template uses a merge field that the context does not have (or does not parse)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# Firm-written templates are merge fields and text only: no tags, no loaders, no libraries.
_FIRM_ENGINE = Engine(autoescape=True, libraries={}, builtins=["django.template.defaultfilters"])
_PLAIN_ENGINE = Engine(autoescape=False, libraries={}, builtins=["django.template.defaultfilters"])


def _variables(template: Template) -> Iterable[str]:
    loops = cast(list[ForNode], template.nodelist.get_nodes_by_type(ForNode))
    loop_names = {name for node in loops for name in node.loopvars}
    for node in cast(list[VariableNode], template.nodelist.get_nodes_by_type(VariableNode)):
        var = node.filter_expression.var
        if isinstance(var, Variable) and var.lookups is not None and var.lookups[0] not in loop_names:
            yield str(var.var)


def check_fields(compiled: Iterable[Template], context: Mapping[str, Any]) -> None:
    """Raise ``MergeFieldError`` naming the first merge field the context lacks."""
    ctx = Context(dict(context))
    for template in compiled:
        for name in _variables(template):
            try:
                Variable(name).resolve(ctx)
            except VariableDoesNotExist:
                raise MergeFieldError(f"Unknown merge field {{{{ {name} }}}}: nothing was sent.", field=name) from None


def _one_line(subject: str) -> str:
    return " ".join(subject.split())[:300]


def render_registered(code: str, context: Mapping[str, Any]) -> Rendered:
    """Render the registered template ``code`` with ``context`` (checked first)."""
    spec = templates.get(code)
    subject = _PLAIN_ENGINE.from_string(spec.subject)
    html = get_template(spec.html).template  # type: ignore[attr-defined]
    text = get_template(spec.text).template  # type: ignore[attr-defined]
    check_fields([subject, html, text], context)
    ctx = dict(context)
    return Rendered(
        subject=_one_line(subject.render(Context(ctx))),
        text=text.render(Context(ctx, autoescape=False)),
        html=html.render(Context(ctx)),
    )


def compile_firm_template(source: str, *, html: bool) -> Template:
    """A firm's own subject or body: merge fields only (``{% ... %}`` tags are refused)."""
    if "{%" in source:
        raise MergeFieldError("Templates may contain merge fields like {{ contact.first_name }}, not {% %} tags.")
    try:
        return (_FIRM_ENGINE if html else _PLAIN_ENGINE).from_string(source)
    except TemplateSyntaxError as exc:
        raise MergeFieldError(f"This template does not parse: {exc}") from None


def text_part(body_text: str, unsubscribe_url: str) -> str:
    """The plain-text part of a firm's message: the body and, for marketing, the unsubscribe link
    (the HTML part's layout carries its own)."""
    return f"{body_text}\n\n--\nUnsubscribe from these emails: {unsubscribe_url}" if unsubscribe_url else body_text


def render_firm_template(*, subject: str, body: str, context: Mapping[str, Any]) -> Rendered:
    """A firm's message template: the subject and a plain-text body with merge fields. The HTML
    part is the body, escaped, with its paragraphs, inside the branded layout."""
    subject_t = compile_firm_template(subject, html=False)
    body_t = compile_firm_template(body, html=False)
    check_fields([subject_t, body_t], context)
    ctx = dict(context)
    text = body_t.render(Context(ctx, autoescape=False))
    html = get_template("mail/email/firm_message.html").render({**ctx, "body_text": text})
    return Rendered(
        subject=_one_line(subject_t.render(Context(ctx))),
        text=text_part(text, ctx.get("unsubscribe_url", "")),
        html=html,
    )
