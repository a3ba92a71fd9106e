"""The three workflow templates every firm starts with (new firms by ``services.on_firm_saved``,
firms that existed before by migration 0002). Plain data, so the migration can use it with its
historical models."""

from __future__ import annotations

from typing import Any

# (name, business days, from "start" or "previous", priority, role, depends on step number)
DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "New client onboarding",
        "description": "From a signed agreement to a funded, reviewed account.",
        "steps": [
            ("Welcome call and collect documents", 1, "start", "high", "advisor", None),
            ("Send the account application", 2, "previous", "high", "staff", None),
            ("Verify identity documents", 2, "previous", "normal", "staff", None),
            ("Fund the account", 5, "previous", "normal", "advisor", None),
            ("Agree the investment policy and model", 3, "start", "normal", "advisor", 1),
            ("30-day check-in", 20, "start", "low", "advisor", None),
        ],
    },
    {
        "name": "Annual review",
        "description": "The yearly meeting: prepare, meet, follow up.",
        "steps": [
            ("Prepare the performance report", 5, "start", "normal", "staff", None),
            ("Update the risk questionnaire", 5, "start", "normal", "advisor", None),
            ("Hold the review meeting", 3, "previous", "high", "advisor", None),
            ("Send the meeting summary", 2, "previous", "normal", "staff", None),
        ],
    },
    {
        "name": "Account closing",
        "description": "Close a relationship cleanly and keep the records.",
        "steps": [
            ("Confirm the closing request with the client", 1, "start", "high", "advisor", None),
            ("Transfer or liquidate the positions", 5, "previous", "high", "staff", None),
            ("Final fee and statement", 3, "previous", "normal", "staff", None),
            ("Archive the records and close the contact", 2, "previous", "low", "staff", None),
        ],
    },
]


def create_defaults(*, firm_id: int, template_model: Any, step_model: Any, using: str = "default") -> int:
    """Create the default templates the firm lacks (by name). Returns how many were created."""
    made = 0
    for spec in DEFAULT_TEMPLATES:
        if template_model.objects.using(using).filter(firm_id=firm_id, name=spec["name"]).exists():
            continue
        template = template_model.objects.using(using).create(
            firm_id=firm_id, name=spec["name"], description=spec["description"]
        )
        for position, (name, days, due_from, priority, role, depends) in enumerate(spec["steps"], start=1):
            step_model.objects.using(using).create(
                firm_id=firm_id, template=template, position=position, name=name, due_days=days,
                due_from=due_from, priority=priority, assignee_role=role, depends_on=depends,
            )  # fmt: skip
        made += 1
    return made
