"""Where every figure comes from: find figures without a source, list sources used.

The walk covers every entity table of the schema
(:func:`materiel.scenario.schema.entity_tables`). What counts as a figure is
decided by the value's type (:func:`is_figure`): a number that is not a bool,
or a map or list of numbers (a bill of materials, buyer shares, a delivery
schedule). Text, ids, choices written as words, flags and dates (``YYYY-MM``
strings) are not figures; the few numeric fields that are not figures either
are listed in :data:`NOT_FIGURES`, each with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from materiel.scenario.schema import Entity, Scenario, entity_records

__all__ = [
    "NOT_FIGURES",
    "figure_fields",
    "figures",
    "is_figure",
    "sources_used",
    "unsourced_figures",
]

NOT_FIGURES: Mapping[str, str] = {
    "year": "a price's calendar year says which year the figure is for: a date",
    "from_year": "a spending path's first year: a date",
    "by_year": "the year a spending path reaches its pledge: a date",
    "review_month": "the calendar month (1-12) of a yearly procurement review: a date",
    "priority": "the order in which lines serve contracts: a modelling choice, not a datum",
}
"""Numeric fields that are not figures, by name, with the reason (dates and choices)."""


def is_figure(value: object) -> bool:
    """True for a number that is not a bool, and for a non-empty map or list of such
    numbers (a bill of materials, buyer shares, a delivery schedule)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, Sequence) and not isinstance(value, str) and value:
        return all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    return False


def _figure_fields(record: Entity) -> list[str]:
    """The fields of ``record`` that the scenario's files set and that hold a figure."""
    return [
        field
        for field in sorted(record.model_fields_set)
        if field not in NOT_FIGURES and is_figure(getattr(record, field))
    ]


def figure_fields(s: Scenario) -> Iterator[tuple[tuple[str, ...], str | None]]:
    """Every figure given in the scenario, as ``(field path as keys, source id or None)``:
    ``(("lines", "<id>", "capacity_per_month"), "<source id>")`` (ids may hold dots).

    A figure is a field of an entity record that the scenario's files set
    explicitly and whose value :func:`is_figure` (a number, or a map or list of
    numbers), except the dates and choices of :data:`NOT_FIGURES`.
    """
    for path, record in entity_records(s):
        for field in _figure_fields(record):
            yield (*path, field), record.source_of(field)


def figures(s: Scenario) -> Iterator[tuple[str, str | None]]:
    """Every figure given in the scenario, as ``(dotted path, source id or None)``
    (see :func:`figure_fields`)."""
    for keys, sid in figure_fields(s):
        yield ".".join(keys), sid


def unsourced_figures(s: Scenario) -> list[str]:
    """Paths of figures with no source (or an unknown one): empty for the embedded data."""
    return [path for path, sid in figures(s) if sid is None or sid not in s.sources]


def sources_used(s: Scenario) -> dict[str, int]:
    """How many figures cite each source id."""
    counts: dict[str, int] = {}
    for _, sid in figures(s):
        if sid is not None:
            counts[sid] = counts.get(sid, 0) + 1
    return counts
