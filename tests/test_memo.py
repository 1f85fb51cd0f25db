"""materiel._memo.ByIdentity: built once per tag and set of objects, by identity."""

from __future__ import annotations

from materiel._memo import ByIdentity


def test_a_value_is_built_once_per_tag_and_objects_and_the_oldest_goes_first() -> None:
    built: list[str] = []
    cache: ByIdentity[str] = ByIdentity(2)

    def build(name: str) -> str:
        built.append(name)
        return name

    a, a_equal, b = [1, 2], [1, 2], [3]
    assert cache.get((a,), lambda: build("a")) == "a"
    assert cache.get((a,), lambda: build("again")) == "a"  # the same list: kept
    assert cache.get((a_equal,), lambda: build("equal")) == "equal"  # equal, not the same
    assert cache.get((a,), lambda: build("tagged"), tag="t") == "tagged"  # another tag
    assert built == ["a", "equal", "tagged"]
    assert cache.get((b,), lambda: build("b")) == "b"  # size 2: "a" went when "tagged" came
    assert cache.get((a,), lambda: build("a2")) == "a2"
    assert built == ["a", "equal", "tagged", "b", "a2"]
