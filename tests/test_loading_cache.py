"""Validated scenarios kept between loads: a changed file is a new result, a hit a new object."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from builders import contract, tiny

import materiel
from materiel import ScenarioError
from materiel.scenario import cache, loading
from materiel.scenario.loading import embedded_ids, load


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh on-disk cache folder and an empty in-memory cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MATERIEL_CACHE_DIR", str(folder))
    cache.clear_memory()
    yield folder
    cache.clear_memory()


def test_changed_file_gives_the_new_result_even_with_same_size_and_mtime(
    tmp_path: Path, disk: Path
) -> None:
    path = write(tmp_path / "s.toml", tiny(contracts={"c1": contract(quantity=100.0)}))
    assert load(path).contracts["c1"].quantity == 100.0
    stat = path.stat()
    write(path, tiny(contracts={"c1": contract(quantity=900.0)}))  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert load(path).contracts["c1"].quantity == 900.0
    cache.clear_memory()  # the disk entry is judged the same way
    assert load(path).contracts["c1"].quantity == 900.0


def test_changed_base_of_the_chain_gives_the_new_result(tmp_path: Path, disk: Path) -> None:
    write(tmp_path / "base.toml", tiny(contracts={"c1": contract(quantity=100.0)}))
    top = write(tmp_path / "top.toml", {"extends": "base.toml", "title": "on top"})
    assert load(top).contracts["c1"].quantity == 100.0
    write(tmp_path / "base.toml", tiny(contracts={"c1": contract(quantity=250.0)}))
    s = load(top)
    assert (s.contracts["c1"].quantity, s.title) == (250.0, "on top")
    (tmp_path / "base.toml").unlink()
    with pytest.raises(ScenarioError, match=r"base\.toml"):
        load(top)


def test_a_hit_is_a_new_object_that_no_caller_can_spoil(disk: Path) -> None:
    first = load("action-plan")
    line = next(iter(first.lines))
    del first.lines[line]  # the models are frozen, their dicts are not
    again = load("action-plan")
    assert again is not first
    assert line in again.lines
    assert again == loading._load_file(*loading._resolve("action-plan", None))[0]


def test_every_embedded_scenario_from_the_cache_equals_a_fresh_load(disk: Path) -> None:
    for sid in [*embedded_ids(), "dataset"]:
        fresh = loading._load_file(*loading._resolve(sid, None))[0]
        load(sid)  # miss: kept in memory and on disk
        assert load(sid) == fresh  # from memory
        cache.clear_memory()
        assert load(sid) == fresh  # from disk
    assert len(list(disk.glob("*.pickle"))) == len(embedded_ids()) + 1


def test_a_file_with_problems_is_never_kept(tmp_path: Path, disk: Path) -> None:
    path = write(tmp_path / "s.toml", tiny(contracts={"c1": contract(product="nope")}))
    for _ in range(2):
        with pytest.raises(ScenarioError, match="nope"):
            load(path)
    assert not list(disk.glob("*.pickle"))
    write(path, tiny(contracts={"c1": contract()}))
    assert load(path).contracts["c1"].product == "shell"
    write(path, tiny(contracts={"c1": contract(product="nope")}))
    with pytest.raises(ScenarioError, match="nope"):
        load(path)


def test_corrupt_or_foreign_entries_are_misses_and_rewritten(disk: Path) -> None:
    expected = load("status-quo")
    (entry,) = disk.glob("*.pickle")
    for junk in (b"not a pickle", pickle.dumps(("another key", (), b"")), b""):
        entry.write_bytes(junk)
        cache.clear_memory()
        assert load("status-quo") == expected
        assert pickle.loads(entry.read_bytes())[0] == entry.stem  # rewritten


def test_off_keeps_nothing_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATERIEL_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    cache.clear_memory()
    assert cache.cache_dir() is None
    assert load("status-quo") == load("status-quo")
    assert list(tmp_path.iterdir()) == []
    cache.clear_memory()


def test_unwritable_folder_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("MATERIEL_CACHE_DIR", str(blocker / "cache"))
    cache.clear_memory()
    assert load("status-quo").id == "status-quo"
    cache.clear_memory()


def test_code_key_follows_the_loader_sources() -> None:
    key = cache.code_key()
    assert key == cache.code_key()
    assert len(key) == 32


def test_a_new_process_reads_the_disk_entry(disk: Path) -> None:
    """A second ``load`` in a fresh process unpickles the entry (no validation, no schema build)."""
    load("action-plan")
    code = (
        "import sys\n"
        "from materiel.scenario import loading\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('validated again')\n"
        "loading._load_file = refuse\n"
        "s = loading.load('action-plan')\n"
        "print(s.id, len(s.lines) > 0)\n"
    )
    env = {**os.environ, "MATERIEL_CACHE_DIR": str(disk)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert proc.stdout.split() == ["action-plan", "True"]
    assert materiel.load("action-plan").id == "action-plan"
