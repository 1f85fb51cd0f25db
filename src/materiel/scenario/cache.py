"""Validated scenarios kept between loads of the same files: in this process and on disk.

Loading a scenario file parses its ``extends`` chain (for an embedded
scenario: the scenario, the dataset and ``economics.csv``) and validates
every entity, 0.1 to 0.4 s of CPU on each ``materiel run``. That work is a
function of two things only, so its result is kept under both:

- the files read, each by the hash of the bytes the loader read
  (:func:`digest`): any changed byte in any file of the chain is a miss;
- the loader's code (:func:`code_key`): the sources of
  :mod:`materiel.scenario` and of the modules it imports from the package,
  the embedded scenario ids (an ``extends`` names them before any file), the
  package, pydantic and Python versions.

Only scenarios that loaded without problems are kept: a file with problems
is read and reported in full every time. A hit returns a new object,
unpickled from the kept bytes, so what one caller does with its scenario
never reaches another (the models are frozen, their dict fields are not).

On disk the entries live in ``$MATERIEL_CACHE_DIR`` (default
``$XDG_CACHE_HOME/materiel/scenarios``, else ``~/.cache/materiel/scenarios``),
one pickle per scenario file, written atomically; ``MATERIEL_CACHE_DIR=off``
keeps them in memory only. As with numba's own cache (also pickles, in
``__pycache__``), the folder is trusted as the user's own. An unreadable,
corrupt or stale entry is a miss and is rewritten; a folder that cannot be
written leaves the cache in memory only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from materiel._io import atomic_write_bytes

if TYPE_CHECKING:
    from materiel.scenario.schema import Scenario

__all__ = ["Sources", "cache_dir", "clear_memory", "code_key", "digest", "load_cached"]

Sources = tuple[tuple[str, str], ...]
"""The files a load read, in order: (absolute path, :func:`digest` of the bytes read)."""

_MEMORY_ENTRIES = 64
_FORMAT = 1  # bump when the layout of an entry changes
_lock = threading.Lock()
_memory: OrderedDict[str, tuple[Sources, bytes]] = OrderedDict()


def digest(data: bytes) -> str:
    """Hash of a file's bytes (BLAKE2b, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@cache
def code_key() -> str:
    """What a load depends on besides its files: the loader's code, the embedded ids, versions."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{_FORMAT}|{sys.version}|{_version('pydantic')}|{_version('materiel')}".encode())
    files = [
        *sorted((package / "scenario").glob("*.py")),
        package / "months.py",
        package / "_errors.py",
    ]
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for toml in sorted((package / "data" / "scenarios").glob("*.toml")):
        h.update(toml.name.encode())
    return h.hexdigest()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare source tree
        return "?"


def cache_dir() -> Path | None:
    """The folder of the on-disk entries, or None where ``MATERIEL_CACHE_DIR=off``."""
    configured = os.environ.get("MATERIEL_CACHE_DIR")
    if configured:
        return None if configured.lower() == "off" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "materiel" / "scenarios"


def clear_memory() -> None:
    """Forget the entries kept in this process (the disk entries stay)."""
    with _lock:
        _memory.clear()


def _current(sources: Sources) -> bool:
    """Whether every file still holds the bytes it held when the entry was made."""
    for path, expected in sources:
        try:
            if digest(Path(path).read_bytes()) != expected:
                return False
        except OSError:
            return False
    return True


def _read_disk(path: Path, key: str) -> tuple[Sources, bytes] | None:
    try:
        entry = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except Exception:  # a corrupt or foreign entry is a miss, rewritten below
        return None
    if not (isinstance(entry, tuple) and len(entry) == 3 and entry[0] == key):
        return None
    return entry[1], entry[2]


def _write_disk(path: Path, key: str, sources: Sources, blob: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, pickle.dumps((key, sources, blob), protocol=5))
    except OSError:  # read-only home, full disk: keep it in memory only
        pass


def load_cached(top: Path, display: str, build: Callable[[], tuple[Scenario, Sources]]) -> Scenario:
    """The scenario of file ``top`` (named ``display`` in messages): kept, or ``build()``.

    ``build`` loads and validates the file and returns the scenario with the
    files it read; its :class:`~materiel.ScenarioError` passes through and
    nothing is kept.
    """
    key = digest(f"{code_key()}|{top.resolve()}|{display}".encode())
    with _lock:
        entry = _memory.get(key)
    folder = cache_dir()
    on_disk = None if folder is None else folder / f"{key}.pickle"
    if entry is None and on_disk is not None:
        entry = _read_disk(on_disk, key)
    if entry is not None and _current(entry[0]):
        try:
            scenario: Scenario = pickle.loads(entry[1])
        except Exception:  # an entry that does not unpickle is a miss
            pass
        else:
            _remember(key, entry)
            return scenario
    scenario, sources = build()
    try:
        blob = pickle.dumps(scenario, protocol=5)
    except Exception:  # a scenario that does not pickle is simply not kept
        return scenario
    _remember(key, (sources, blob))
    if on_disk is not None:
        _write_disk(on_disk, key, sources, blob)
    return scenario


def _remember(key: str, entry: tuple[Sources, bytes]) -> None:
    with _lock:
        _memory[key] = entry
        _memory.move_to_end(key)
        while len(_memory) > _MEMORY_ENTRIES:
            _memory.popitem(last=False)
