"""The folder list is the architecture: a lower layer never imports an upper one.

Walks every module of the package with :mod:`ast` (imports inside functions
and under ``TYPE_CHECKING`` count too: a lazy import is still a dependency)
and checks each ``materiel.*`` import against the layer order documented in
``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import materiel

PACKAGE = Path(materiel.__file__).parent

# layer of each top-level part of the package; lower numbers sit lower
LAYERS: dict[str, int] = {
    "_errors": 0,
    "_io": 0,
    "_json": 0,
    "_lazy": 0,
    "_memo": 0,
    "_numba": 0,
    "_xarray": 0,
    "months": 0,
    "scenario": 1,
    "engine": 2,
    "analysis": 3,
    "plan": 4,
    "present": 5,
    "testing": 5,  # published Hypothesis strategies: build scenarios, import nothing above
    "cli": 6,
    "web": 6,
    "__main__": 7,  # python -m materiel: runs the command line
}


def _part(module: str) -> str:
    """Top-level part of a dotted ``materiel.x.y`` name (``x``)."""
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported materiel module) for every import in the file."""
    module = ".".join(("materiel", *path.relative_to(PACKAGE).with_suffix("").parts))
    return _imports_in(path.read_text(encoding="utf-8"), module)


def _imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, imported materiel module) for every import in ``source`` of module ``package``."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("materiel.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = package.rsplit(".", node.level)[0]
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name == "materiel":  # from materiel import x: x is a part or a public name
                found += [(node.lineno, f"materiel.{a.name}") for a in node.names]
            elif name.startswith("materiel."):
                found.append((node.lineno, name))
    return found


def _modules() -> list[Path]:
    top = PACKAGE / "__init__.py"  # the public API facade may import every layer
    return sorted(p for p in PACKAGE.rglob("*.py") if p != top)


def test_every_part_has_a_layer() -> None:
    parts = {
        p.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
    }
    assert parts <= set(LAYERS), f"give these a layer: {sorted(parts - set(LAYERS))}"


def _top_level_parts() -> set[str]:
    """Every folder and module directly under ``src/materiel`` as written in prose
    (``engine/``, ``months.py``), the package ``__init__.py`` and caches left out."""
    return {
        f"{p.name}/" if p.is_dir() else p.name
        for p in PACKAGE.iterdir()
        if p.name not in ("__init__.py", "__pycache__") and (p.is_dir() or p.suffix == ".py")
    }


def test_the_readme_layout_and_the_architecture_name_every_part() -> None:
    """A new folder or module is placed in the architecture where a reader looks for it."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("Layout (") :].split("\n\n", 1)[0]
    architecture = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    parts = _top_level_parts()
    assert {"engine/", "data/", "months.py"} <= parts  # the walk sees folders and modules
    for name, text in (("README.md's layout paragraph", layout), ("architecture.md", architecture)):
        missing = sorted(p for p in parts if f"{p}`" not in text)  # `x` or `materiel/x`
        assert not missing, f"{name} does not name {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_import(path: Path) -> None:
    own = LAYERS[path.relative_to(PACKAGE).parts[0].removesuffix(".py")]
    upward = []
    for line, module in _imports(path):
        part = _part(module)
        if part in LAYERS and LAYERS[part] > own:
            upward.append(f"{path.name}:{line} imports {module} (layer {LAYERS[part]} > {own})")
    assert not upward, "\n".join(upward)


def test_the_walker_sees_lazy_and_relative_imports() -> None:
    """The check would catch an upward import hidden in a function body or written relative."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..analysis import result\n"
        "def f():\n    from materiel.present import charts\n    return charts\n"
    )
    found = [m for _, m in _imports_in(source, "materiel.engine.core")]
    assert sorted(found) == ["materiel.analysis", "materiel.present"]
