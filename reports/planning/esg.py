"""ESG impact preferences (issue #19, point 5; the seed's "13 impact values"): what a client may
care about in socially responsible and impact investing, as a fixed list the client ranks.

A ranking is a list of the values' codes, most important first, each at most once; the values left
out do not matter to the client. ``clean_ranking`` is the one check, used by the advisor's form,
the client's page and the API.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

VALUES: tuple[tuple[str, str, str], ...] = (
    ("climate", "Climate change", "Companies cutting greenhouse-gas emissions; no thermal coal."),
    ("clean_energy", "Clean energy", "Renewable power, energy efficiency and storage."),
    ("water", "Clean water", "Water conservation, treatment and access."),
    ("biodiversity", "Land and biodiversity", "No deforestation; protecting habitats and oceans."),
    ("pollution", "Pollution and waste", "Less toxic waste and plastic, more recycling."),
    ("human_rights", "Human rights", "No forced or child labour in the supply chain."),
    ("workers", "Fair labour", "Safe workplaces, fair pay and the right to organise."),
    ("diversity", "Diversity and inclusion", "Diverse boards and leadership, equal pay."),
    ("communities", "Community development", "Affordable housing, lending and jobs in local communities."),
    ("health", "Health and well-being", "Access to medicine and healthy food; no tobacco."),
    ("governance", "Corporate governance", "Independent boards, shareholder rights, no bribery."),
    ("animals", "Animal welfare", "No animal testing or factory farming."),
    ("weapons", "No weapons", "No controversial weapons, civilian firearms or military contracting."),
)
LABELS = {code: label for code, label, _ in VALUES}
CODES = tuple(LABELS)


def clean_ranking(codes: Iterable[str], *, field: str = "ranking") -> list[str]:
    """The ranking as given (most important first), or ``ValidationError`` on ``field`` naming the
    unknown or repeated value; at least one value."""
    ranking = [str(code).strip() for code in codes]
    unknown = [code for code in ranking if code not in LABELS]
    if unknown:
        raise ValidationError(
            {field: f"Unknown impact value {unknown[0]!r}: choose from {', '.join(CODES)}."}, code="invalid"
        )
    seen: set[str] = set()
    for code in ranking:
        if code in seen:
            raise ValidationError({field: f"{LABELS[code]} is ranked twice: give each value one rank."}, code="invalid")
        seen.add(code)
    if not ranking:
        raise ValidationError({field: "Rank at least one impact value."}, code="required")
    return ranking


def ranking_from_ranks(ranks: dict[str, str]) -> list[str]:
    """A ranking from a rank given per value ({"climate": "1", "water": "2", "weapons": ""}): blank
    means "does not matter"; ranks must be whole numbers, each used once."""
    ordered: dict[int, str] = {}
    for code, rank in ranks.items():
        text = (rank or "").strip()
        if not text:
            continue
        if not text.isdigit() or not 1 <= int(text) <= len(VALUES):
            raise ValidationError({code: f"{LABELS.get(code, code)}: choose a rank from 1 to {len(VALUES)}, or none."})
        number = int(text)
        if number in ordered:
            raise ValidationError(
                {code: f"{LABELS.get(code, code)} has rank {number}, as {LABELS[ordered[number]]} has: give each "
                       "rank once."}
            )  # fmt: skip
        ordered[number] = code
    return clean_ranking([ordered[n] for n in sorted(ordered)])


def described(ranking: Iterable[str]) -> list[tuple[int, str, str]]:
    """(rank, code, label) for a stored ranking (a code no longer known keeps its code as label)."""
    return [(position, code, LABELS.get(code, code)) for position, code in enumerate(ranking, start=1)]
