"""Where every figure comes from: find figures without a source, list sources used."""

from __future__ import annotations

from collections.abc import Iterator

from materiel.scenario.schema import Entity, Scenario

__all__ = ["figures", "sources_used", "unsourced_figures"]

_NOT_FIGURES = {
    "source",
    "field_sources",
    "name",
    "owner",
    "country",
    "product",
    "pool",
    "line",
    "decision",
    "start",
    "end",
    "by",
    "kind",
    "unit",
    "supply",
    "parties",
    "donor",
    "recipient",
    "funder",
    "invests",
    "firm",
    "multi_year",
    "basis",
    "priority",
    "repeats",
    "repeat_every_months",
    "year",
}
_TABLES = (
    "products",
    "lines",
    "investments",
    "facilitation",
    "contracts",
    "consumption",
    "aid",
    "targets",
    "spending_paths",
    "prices",
)
_NESTED = ("stocks", "inventories", "economics")


def _records(s: Scenario) -> Iterator[tuple[str, Entity]]:
    for table in _TABLES:
        for key, record in getattr(s, table).items():
            yield f"{table}.{key}", record
    for table in _NESTED:
        for outer, inner in getattr(s, table).items():
            for key, record in inner.items():
                yield f"{table}.{outer}.{key}", record


def figures(s: Scenario) -> Iterator[tuple[str, str | None]]:
    """Every figure given in the scenario, as ``(path, source id or None)``.

    A figure is a numeric attribute (or map of numbers, such as a bill of
    materials or buyer shares) that the scenario's files set explicitly.
    """
    for path, record in _records(s):
        for field in sorted(record.model_fields_set - _NOT_FIGURES):
            value = getattr(record, field)
            if value is None or value == {}:
                continue
            yield f"{path}.{field}", record.source_of(field)


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
