"""Every Sphinx cross-reference to ``materiel.…`` in the package's docstrings names
something that exists (a module, or an attribute of one; dataclass fields count)."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
REF = re.compile(r":(?:func|class|data|meth|attr|mod|exc):`~?(materiel(?:\.\w+)+)(?:\(\))?`")


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):  # the longest importable module prefix
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            fields = (
                {f.name for f in dataclasses.fields(obj)}
                if dataclasses.is_dataclass(obj)
                else set()
            )
            if attr in fields:
                obj = None
                continue
            if obj is None or not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_resolves() -> None:
    assert _resolves("materiel.analysis.result.Result")
    assert _resolves("materiel.engine.inputs.Inputs.qualified_from")  # a dataclass field
    assert not _resolves("materiel.result.Result")
    assert not _resolves("materiel.analysis.result.NoSuchThing")


def test_every_reference_resolves() -> None:
    broken = sorted(
        f"{path.relative_to(SRC)}: {m.group(1)}"
        for path in SRC.rglob("*.py")
        for m in REF.finditer(path.read_text())
        if not _resolves(m.group(1))
    )
    assert not broken, "docstring references to nothing:\n" + "\n".join(broken)
