"""Scenario files: TOML that ``extends`` an embedded scenario and overrides any part.

Merging rule. Sections are tables of entities keyed by id (two levels for
``stocks``, ``inventories`` and ``economics``: party then product or year).
An overlay adds entities and replaces *attributes* of existing entities one by
one; an attribute's value (a number, a list, or a map such as ``buyers`` or
``bom``) is replaced whole. ``drop = ["contracts.c1", "stocks.USA.javelin"]``
removes entities. ``policy`` is merged attribute by attribute.

Loading reports every problem at once: schema errors for each entity and the
cross-reference checks of :mod:`materiel.scenario.checks`, each with file, field path
and, where it can be found, the line.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from materiel._errors import Problem, ScenarioError
from materiel.months import MONTH_PATTERN
from materiel.scenario.cache import Sources, digest, load_cached
from materiel.scenario.checks import ALL_CHECKS, check_dates_in_horizon
from materiel.scenario.provenance import figure_fields
from materiel.scenario.schema import EconomicYear, Scenario, entity_tables
from materiel.scenario.uncertainty import extract_distributions

__all__ = [
    "DATASET_ID",
    "embedded_ids",
    "embedded_mapping",
    "files_read",
    "load",
    "load_many",
    "scenario_summaries",
    "unsourced",
]

DATASET_ID = "dataset"
MAX_EXTENDS_DEPTH = 32
"""Most files in one ``extends`` chain (the file itself included)."""
_ENTITY_DEPTH = {
    "sources": 1,
    "parties": 1,
    **entity_tables(),
    "policy": 0,
    "uncertain": 1,
    "correlations": 0,
}
"""Tables keyed by id, and how many id keys lead to a record (0: merged whole); the
entity tables come from the schema (:func:`~materiel.scenario.schema.entity_tables`)."""
_ECONOMIC_FIELDS = tuple(
    f for f in EconomicYear.model_fields if f not in ("source", "field_sources")
)


@dataclass
class _Layer:
    """One file's contribution: its name, text and parsed table, and the files it read
    (path, :func:`~materiel.scenario.cache.digest` of the bytes read)."""

    name: str
    text: str
    data: dict[str, Any]
    sources: Sources = ()


@dataclass
class _Merged:
    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[tuple[str, ...], _Layer] = field(default_factory=dict)
    bad_fields: set[tuple[str, ...]] = field(default_factory=set)  # schema errors, by field


def _data_dir() -> Path:
    return Path(str(resources.files("materiel") / "data"))


def embedded_ids() -> list[str]:
    """Ids of the embedded scenarios, in their declared order (the dataset excluded)."""
    folder = _data_dir() / "scenarios"
    ids = []
    for path in folder.glob("*.toml"):
        ids.append(path.stem)
    order = ["status-quo", "action-plan", "hague-pledge", "hindcast-2022"]
    return sorted(ids, key=lambda i: (order.index(i) if i in order else len(order), i))


def _embedded_path(ref: str) -> Path | None:
    if ref == DATASET_ID:
        return _data_dir() / "dataset.toml"
    path = _data_dir() / "scenarios" / f"{ref}.toml"
    return path if path.is_file() else None


def embedded_mapping(ref: str) -> dict[str, Any]:
    """The TOML mapping of an embedded scenario (or of ``"dataset"``), as written in the file.

    Nothing is merged or validated; an unknown ``ref`` raises :class:`ScenarioError`.
    """
    ids = embedded_ids()
    path = _embedded_path(ref) if ref in (*ids, DATASET_ID) else None
    if path is None:
        raise ScenarioError(Problem("<embedded>", "", f"no embedded scenario {ref!r}; have {ids}"))
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _decode(raw: bytes) -> str:
    """UTF-8 text with universal newlines, as ``Path.read_text`` gives it."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _read_layer(path: Path, display: str) -> _Layer:
    try:
        raw = path.read_bytes()
        text = _decode(raw)
    except OSError as exc:
        raise ScenarioError(Problem(display, "", f"cannot read file: {exc.strerror}")) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(Problem(display, "", "expected a UTF-8 text file")) from exc
    sources: Sources = ((str(path.resolve()), digest(raw)),)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        at_end = "(at end of document)" in str(exc)  # the last line: a cut or unclosed file
        line = (
            int(found.group(1)) if found else (max(1, len(text.splitlines())) if at_end else None)
        )
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ScenarioError(Problem(display, "", f"invalid TOML: {msg}", line)) from exc
    if path.name == "dataset.toml" and path.parent == _data_dir():
        csv_path = path.parent / "economics.csv"
        csv_raw = csv_path.read_bytes()
        data["economics"] = _read_economics(csv_raw)
        sources = (*sources, (str(csv_path.resolve()), digest(csv_raw)))
    return _Layer(display, text, data, sources)


def _read_economics(raw: bytes) -> dict[str, dict[str, dict[str, Any]]]:
    """The embedded economic table (``economics.csv``'s bytes): one row per ally-year,
    one source per figure."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    with io.StringIO(raw.decode("utf-8"), newline="") as fh:
        for row in csv.DictReader(fh):
            record: dict[str, Any] = {}
            if row.get("source"):
                record["source"] = row["source"]
            field_sources = {}
            for name in _ECONOMIC_FIELDS:
                if row.get(name):
                    record[name] = float(row[name])
                    if row.get(f"{name}_source"):
                        field_sources[name] = row[f"{name}_source"]
            if field_sources:
                record["field_sources"] = field_sources
            table.setdefault(row["party"], {})[row["year"]] = record
    return table


def _resolve(ref: str, relative_to: Path | None) -> tuple[Path, str]:
    """Find the file for ``ref``: an embedded id, or a path (relative to the extending file)."""
    embedded = _embedded_path(ref)
    if embedded is not None:
        return embedded, f"<embedded:{ref}>"
    path = Path(ref)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    if path.is_file():
        return path, str(ref) if relative_to is None else str(path)
    if path.is_dir():
        raise ScenarioError(Problem(str(ref), "", "is a directory; expected a scenario TOML file"))
    known = ", ".join([DATASET_ID, *embedded_ids()])
    raise ScenarioError(
        Problem(
            str(ref),
            "",
            f"no such scenario or file {ref!r}; expected a file path or one of: {known}",
        )
    )


def _chain(path: Path, display: str, seen: tuple[Path, ...] = ()) -> list[_Layer]:
    """The file and every file it extends, base first."""
    if path.resolve() in seen:
        raise ScenarioError(Problem(display, "extends", "extends itself (a cycle of extends)"))
    layer = _read_layer(path, display)
    _check_shapes(layer)
    base = layer.data.get("extends")
    if base is None:
        return [layer]
    if not isinstance(base, str):
        raise ScenarioError(Problem(display, "extends", "expected a scenario id or a file path"))
    if len(seen) + 1 >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            Problem(
                display,
                "extends",
                f"the chain of extends is deeper than {MAX_EXTENDS_DEPTH} files; expected at "
                f"most {MAX_EXTENDS_DEPTH} (merge some of them)",
                _locate(layer.text, ("extends",)),
            )
        )
    try:
        base_path, base_display = _resolve(base, path.parent)
    except ScenarioError as exc:
        line = _locate(layer.text, ("extends",))
        raise ScenarioError(
            [Problem(display, "extends", p.message, line) for p in exc.problems]
        ) from exc
    return [*_chain(base_path, base_display, (*seen, path.resolve())), layer]


def _check_shapes(layer: _Layer) -> None:
    """Keys the merge reads before the schema does: ``drop`` is a list of entity
    paths and ``uncertain`` a table of distributions."""
    problems = []
    drop = layer.data.get("drop")
    if drop is not None and not (isinstance(drop, list) and all(isinstance(d, str) for d in drop)):
        problems.append(
            Problem(
                layer.name,
                "drop",
                f'expected a list of entity paths such as ["contracts.c1"], got {drop!r}',
                _locate(layer.text, ("drop",)),
            )
        )
    uncertain = layer.data.get("uncertain")
    if uncertain is not None and not isinstance(uncertain, dict):
        problems.append(
            Problem(
                layer.name,
                "uncertain",
                f"expected a table of field path -> distribution, got {uncertain!r}",
                _locate(layer.text, ("uncertain",)),
            )
        )
    if problems:
        raise ScenarioError(problems)


def _merge(layers: list[_Layer]) -> _Merged:
    merged = _Merged()
    out = merged.data
    for layer in layers:
        for key, value in layer.data.items():
            if key == "drop":
                continue
            depth = _ENTITY_DEPTH.get(key)
            if depth is None or not isinstance(value, dict):
                out[key] = value
                merged.origin[(key,)] = layer
                continue
            out.setdefault(key, {})
            if not isinstance(out[key], dict):
                out[key] = {}
            _merge_table(out[key], value, depth, (key,), layer, merged.origin)
        for ref in layer.data.get("drop", []):
            _drop(out, ref, layer, merged)
    return merged


def _merge_table(
    into: dict[str, Any],
    overlay: dict[str, Any],
    depth: int,
    path: tuple[str, ...],
    layer: _Layer,
    origin: dict[tuple[str, ...], _Layer],
) -> None:
    if depth == 0:  # an entity: replace attributes one by one
        for attr, value in overlay.items():
            into[attr] = value
            origin[(*path, attr)] = layer
        origin[path] = layer
        return
    for key, value in overlay.items():
        if isinstance(value, dict):
            existing = into.get(key)
            if not isinstance(existing, dict):
                into[key] = existing = {}
            _merge_table(existing, value, depth - 1, (*path, key), layer, origin)
        else:
            into[key] = value
            origin[(*path, key)] = layer


def _drop(out: dict[str, Any], ref: str, layer: _Layer, merged: _Merged) -> None:
    keys = ref.split(".")
    table: Any = out
    for key in keys[:-1]:
        table = table.get(key) if isinstance(table, dict) else None
    if not isinstance(table, dict) or keys[-1] not in table:
        raise ScenarioError(
            Problem(
                layer.name,
                "drop",
                f"cannot drop {ref!r}: no such entity",
                _locate(layer.text, ("drop",)),
            )
        )
    del table[keys[-1]]


def _key_pattern(key: str) -> str:
    return rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"


def _locate(text: str, path: tuple[str, ...]) -> int | None:
    """Best-effort line number of ``path`` in a TOML text (1-based), or None."""
    lines = text.splitlines()
    for n_header in range(len(path), 0, -1):
        header = r"\s*\.\s*".join(_key_pattern(k) for k in path[:n_header])
        header_re = re.compile(rf"^\s*\[\s*{header}\s*\]\s*(#.*)?$")
        for i, line in enumerate(lines):
            if not header_re.match(line):
                continue
            rest = path[n_header:]
            if not rest:
                return i + 1
            attr_re = re.compile(rf"^\s*{_key_pattern(rest[0])}\s*(=|\.)")
            for j in range(i + 1, len(lines)):
                if lines[j].lstrip().startswith("["):
                    break
                if attr_re.match(lines[j]):
                    return j + 1
            return i + 1
    if path:  # a top-level key or a dotted key written inline
        attr_re = re.compile(rf"^\s*{_key_pattern(path[-1])}\s*(=|\.)")
        for i, line in enumerate(lines):
            if attr_re.match(line):
                return i + 1
    return None


def _problem(merged: _Merged, loc: tuple[str, ...], message: str, top: _Layer) -> Problem:
    if len(loc) >= 2 and loc[0] == "uncertain" and ("uncertain", loc[1]) not in merged.origin:
        loc = (*loc[1].split("."), *loc[2:])  # written in place, at the field itself
    layer = top
    for n in range(len(loc), 0, -1):
        if loc[:n] in merged.origin:
            layer = merged.origin[loc[:n]]
            break
    return Problem(layer.name, ".".join(loc), message, _locate(layer.text, loc))


_PATTERNS = {
    MONTH_PATTERN: "expected a month written YYYY-MM, such as 2025-01",
    r"^\d{4}$": "expected a year written YYYY, such as 2025",
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$": "expected an id: letters, digits, '_', '.', '-', "
    "starting with a letter or digit",
}


def _model_at(loc: tuple[str, ...]) -> type[BaseModel] | None:
    """The schema model whose field ``loc[-1]`` is (``Contract`` for contracts.c1.x)."""
    kind: Any = Scenario
    for key in loc[:-1]:
        while get_origin(kind) in (Annotated, Union) or type(kind).__name__ == "UnionType":
            args = [a for a in get_args(kind) if a is not type(None)]
            if get_origin(kind) is Annotated:
                args = args[:1]
            kind = args[0] if len(args) == 1 else None
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found = kind.model_fields.get(key)
            if found is None:
                return None
            kind = found.annotation
        elif get_origin(kind) is dict:
            kind = get_args(kind)[1]
        else:
            return None
    while get_origin(kind) in (Annotated, Union) or type(kind).__name__ == "UnionType":
        args = [a for a in get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 or get_origin(kind) is Annotated else None
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _pydantic_message(err: Any) -> str:
    kind = err["type"]
    loc = tuple(str(x) for x in err["loc"])
    if kind == "extra_forbidden":
        model = _model_at(loc)
        if model is None:
            return f"unknown field {loc[-1]!r}; check its spelling"
        fields = ", ".join(sorted(model.model_fields))
        return f"unknown field {loc[-1]!r}; expected one of: {fields}"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern", ""))
        expected = _PATTERNS.get(pattern, f"expected text matching {pattern}")
        return f"got {err['input']!r}; {expected}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind.startswith(("greater", "less", "finite", "float", "int", "string", "bool", "literal")):
        return f"{msg} (got {err['input']!r})"
    return msg


_REFERENCE = re.compile(r"^unknown (party|product|line|source) '([^']*)'")
_SECTION_OF = {"party": "parties", "product": "products", "line": "lines", "source": "sources"}


def _validate(
    merged: _Merged, top: _Layer
) -> tuple[Scenario | None, list[Problem], set[tuple[str, ...]]]:
    """Validate the merged tables; return the scenario (or a pruned one), problems, pruned keys."""
    problems: list[Problem] = []
    pruned_keys: set[tuple[str, ...]] = set()
    data = merged.data
    try:
        return Scenario.model_validate(data), problems, pruned_keys
    except ValidationError as exc:
        errors = exc.errors()
    merged.bad_fields = {tuple(str(x) for x in err["loc"]) for err in errors}
    # Drop each invalid entity (or top-level field) and validate the rest, so that
    # the cross-reference checks can still run and report in the same pass.
    pruned = _copy_tables(data)
    for err in errors:
        loc = tuple(str(x) for x in err["loc"])
        raw = err.get("input")
        if not (loc and loc[0] != "uncertain" and isinstance(raw, dict) and "dist" in raw):
            problems.append(_problem(merged, loc, _pydantic_message(err), top))
        # else: an invalid distribution written in place; its own error, reported at
        # the same field through ``uncertain``, says what is wrong with it
        key = _entity_key(loc)
        _delete_path(pruned, key)
        pruned_keys.add(key)
    try:
        return Scenario.model_validate(pruned), problems, pruned_keys
    except ValidationError:
        return None, problems, pruned_keys


def _with_partial_entities(
    scenario: Scenario, merged: _Merged, pruned: set[tuple[str, ...]]
) -> Scenario:
    """``scenario`` with each entity pruned for a schema error put back, built from its
    valid fields only, so that the cross-reference checks also report its other problems
    (an unknown product next to a missing field) instead of hiding them."""
    update: dict[str, dict[str, Any]] = {}
    for key in sorted(pruned):
        if len(key) != 2 or _ENTITY_DEPTH.get(key[0]) != 1 or key[0] == "uncertain":
            continue
        raw = merged.data.get(key[0], {}).get(key[1])
        model = _model_at((*key, "x"))
        if not isinstance(raw, dict) or model is None:
            continue
        bad = {loc[2] for loc in merged.bad_fields if len(loc) > 2 and loc[:2] == key}
        values = {k: v for k, v in raw.items() if k in model.model_fields and k not in bad}
        section = update.setdefault(key[0], dict(getattr(scenario, key[0])))
        section[key[1]] = model.model_construct(**values)
    return scenario.model_copy(update=update) if update else scenario


def _findings(
    check: Any, partial: Scenario, scenario: Scenario
) -> list[tuple[tuple[str, ...], str]]:
    """``check``'s findings on ``partial``; on the valid ``scenario`` alone where a partly
    built entity trips the check (a field it needs was the invalid one)."""
    if partial is not scenario:
        try:
            return list(check(partial))
        except (AttributeError, AssertionError, TypeError, ValueError, KeyError):
            pass
    return list(check(scenario))


def _echoes(loc: tuple[str, ...], bad_fields: set[tuple[str, ...]]) -> bool:
    """A finding at a field (or inside one) already reported by the schema."""
    return any(loc[: len(bad)] == bad for bad in bad_fields if len(bad) > 2)


_QUOTED = re.compile(r"'([^']+)'")


def _cascades(problems: list[Problem], merged: _Merged, layers: list[_Layer]) -> list[Problem]:
    """Problems the user's file causes inside the embedded data, reported at their cause.

    The embedded scenarios are valid as shipped, so a problem located in one of
    them while a user's file is loaded on top comes from that file: a dropped or
    changed entity that others refer to, or a changed ``start``/``months``. Each
    such group becomes one problem at the line of the cause in the user's file,
    naming how many embedded entries it breaks and the first of them.
    """
    own = [layer for layer in layers if not layer.name.startswith("<embedded:")]
    if not own:
        return problems
    causes: dict[tuple[str, ...], _Layer] = {}
    for loc, layer in merged.origin.items():
        if layer in own:
            causes[loc] = layer
    drops = {
        ref: layer for layer in own for ref in layer.data.get("drop", []) if isinstance(ref, str)
    }
    out: list[Problem] = []
    grouped: dict[tuple[str, str], list[Problem]] = {}
    written = {loc[:2] for loc, layer in merged.origin.items() if layer in own}
    for p in problems:
        # not a line of theirs: in the embedded data, or an entity their file does not write
        elsewhere = p.file.startswith("<embedded:") or (
            p.line is None and tuple(p.path.split(".")[:2]) not in written
        )
        cause = _cause(p, causes, drops) if elsewhere else None
        if cause is None:
            out.append(p)
        else:
            grouped.setdefault(cause, []).append(p)
    for (file_name, path), group in grouped.items():
        layer = next(layer for layer in own if layer.name == file_name)
        first = group[0]
        where = f"{first.file}:{first.line}" if first.line else first.file
        message = (
            f"this breaks {len(group)} entr{'y' if len(group) == 1 else 'ies'} of the embedded "
            f"data; the first, {first.path} ({where}): {first.message}"
        )
        line = _locate(layer.text, tuple(path.split(".")))
        out.append(Problem(file_name, path, message, line))
    return out


def _cause(
    p: Problem, causes: dict[tuple[str, ...], _Layer], drops: dict[str, _Layer]
) -> tuple[str, str] | None:
    """(user file, field path) whose change made embedded problem ``p``, or None if unknown."""
    if "horizon" in p.message:
        for key in ("months", "start"):
            if (key,) in causes:
                return causes[(key,)].name, key
    for ref in _QUOTED.findall(p.message):
        for dropped, layer in drops.items():
            if dropped.split(".")[-1] == ref:
                return layer.name, "drop"
        for loc, layer in causes.items():
            if len(loc) == 3 and loc[1] == ref:  # an attribute of the entity it names
                return layer.name, ".".join(loc)
    return None


def _entity_key(loc: tuple[str, ...]) -> tuple[str, ...]:
    """The entity (or top-level field) that a field path belongs to."""
    depth = _ENTITY_DEPTH.get(loc[0]) if loc else None
    return loc[: 1 + depth] if depth else loc[:1]


def _refers_to_pruned(loc: tuple[str, ...], message: str, pruned: set[tuple[str, ...]]) -> bool:
    """A finding caused by an entity dropped for its own error is not a new problem:
    a dangling reference to it, or a distribution on one of its fields."""
    found = _REFERENCE.match(message)
    if found is not None and (_SECTION_OF[found.group(1)], found.group(2)) in pruned:
        return True
    if len(loc) >= 2 and loc[0] == "uncertain":
        return _entity_key(tuple(loc[1].split("."))) in pruned
    return False


def _copy_tables(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy_tables(v) for k, v in data.items()}
    return data


def _delete_path(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    table: Any = data
    for key in loc[:-1]:
        table = table.get(key) if isinstance(table, dict) else None
    if isinstance(table, dict):
        table.pop(loc[-1], None)


def load(source: str | Path | Mapping[str, Any] | Scenario, *, name: str | None = None) -> Scenario:
    """Load a scenario: an embedded id (``"action-plan"``), a TOML file path, or a mapping.

    A mapping is treated like the parsed contents of a TOML file (it may
    ``extends`` an embedded scenario); ``name`` labels it in error messages.
    Raises :class:`~materiel.ScenarioError` listing every problem found.
    """
    if isinstance(source, Scenario):
        return source
    if not isinstance(source, Mapping):
        path, display = _resolve(str(source), None)
        return load_cached(path, display, lambda: _load_file(path, display))
    display = name or "<mapping>"
    top = _Layer(display, "", dict(source))
    _check_shapes(top)
    base = top.data.get("extends")
    layers = [top]
    if isinstance(base, str):
        base_path, base_display = _resolve(base, None)
        layers = [*_chain(base_path, base_display), top]
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", name or "custom").strip("-.")[-80:] or "custom"
    return _build(layers, top, stem)


def files_read(ref: str) -> list[Path]:
    """The files scenario ``ref`` (an embedded id or a path) is read from: the file
    and each file it ``extends``, resolved, base first.

    A command refuses to write its output over one of them. Raises
    :class:`~materiel.ScenarioError` as :func:`load` does for a missing file or
    a broken chain of ``extends``.
    """
    path, display = _resolve(ref, None)
    return [Path(name) for layer in _chain(path, display) for name, _ in layer.sources]


def unsourced(ref: str) -> list[Problem]:
    """The figures of scenario ``ref`` (an embedded id or a path) that cite no source,
    each located in the file of its chain that sets it: file, line and field path.

    Raises :class:`~materiel.ScenarioError` as :func:`load` does for an invalid scenario.
    """
    missing = [keys for keys, sid in figure_fields(load(ref)) if sid is None]
    if not missing:  # the usual case: no need to read the files again to locate
        return []
    path, display = _resolve(ref, None)
    layers = _chain(path, display)
    merged = _merge(layers)
    return [
        _problem(
            merged,
            keys,
            f"no source; expected the record's `source` (or `field_sources.{keys[-1]}`) "
            "naming an entry of [sources]: a publication, or an `assumption` saying why",
            layers[-1],
        )
        for keys in missing
    ]


def _load_file(path: Path, display: str) -> tuple[Scenario, Sources]:
    """The scenario of file ``path`` and the files its chain read (for the cache)."""
    layers = _chain(path, display)
    scenario = _build(layers, layers[-1], path.stem)
    return scenario, tuple(src for layer in layers for src in layer.sources)


def _build(layers: list[_Layer], top: _Layer, stem: str) -> Scenario:
    """Merge ``layers`` (base first, ``top`` last), validate and check; every problem at once."""
    merged = _merge(layers)
    # The id, title and description belong to the top file, not its base.
    for key, default in (("id", stem), ("title", ""), ("description", "")):
        merged.data[key] = top.data.get(key, default)
    merged.data, found = extract_distributions(merged.data)
    merged.data["uncertain"] = found
    scenario, problems, pruned = _validate(merged, top)
    if scenario is not None:
        # with start or months invalid, the horizon checks would judge every date
        # against the default horizon: report the field, not their echoes
        horizon_known = not pruned & {("start",), ("months",)}
        checks = [c for c in ALL_CHECKS if horizon_known or c is not check_dates_in_horizon]
        partial = _with_partial_entities(scenario, merged, pruned)
        for check in checks:
            for loc, message in _findings(check, partial, scenario):
                if _refers_to_pruned(loc, message, pruned) or _echoes(loc, merged.bad_fields):
                    continue
                problems.append(_problem(merged, loc, message, top))
    if problems:
        raise ScenarioError(_cascades(problems, merged, layers))
    assert scenario is not None
    return scenario


def load_many(refs: list[str]) -> list[Scenario]:
    """Load several scenarios, reporting problems of all of them together."""
    out, problems = [], []
    for ref in refs:
        try:
            out.append(load(ref))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return out


def scenario_summaries() -> list[dict[str, str]]:
    """Id, title and one-line description of each embedded scenario."""
    out = []
    for sid in embedded_ids():
        data = embedded_mapping(sid)
        out.append(
            {
                "id": sid,
                "title": str(data.get("title", "")),
                "description": str(data.get("description", "")).strip().splitlines()[0]
                if data.get("description")
                else "",
                "extends": str(data.get("extends", "")),
            }
        )
    return out
