"""What limits a line's output in a month: the binding vocabulary, its labels and its parser.

The kernel records a code per line and month (:class:`Binding`; an input
short adds the index of its product to ``Binding.INPUT``). Results carry
labels: ``capacity``, ``orders`` or ``input:<product>``. :func:`label`
builds them, :func:`parse` reads one back (:func:`is_label`,
:func:`input_product` for short), :func:`labels` gives every label of a
scenario's codes, and :func:`is_input` tests an array of labels.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "INPUT_PREFIX",
    "Binding",
    "input_product",
    "is_input",
    "is_label",
    "label",
    "labels",
    "parse",
]

INPUT_PREFIX = "input:"


class Binding(IntEnum):
    """The smallest of capacity, inputs and orders, as the kernel records it."""

    CAPACITY = 0
    ORDERS = 1
    INPUT = 2  # + product index of the binding input


def label(kind: Binding, product: str | None = None) -> str:
    """``capacity``, ``orders`` or ``input:<product>`` (``product`` only and always for inputs)."""
    if (kind is Binding.INPUT) != (product is not None):
        raise ValueError(f"a binding label names a product for inputs only: {kind!r}, {product!r}")
    return INPUT_PREFIX + product if product is not None else kind.name.lower()


def parse(text: str) -> tuple[Binding, str | None]:
    """The kind and, for an input, the product of a binding label (inverse of :func:`label`)."""
    if text.startswith(INPUT_PREFIX) and len(text) > len(INPUT_PREFIX):
        return Binding.INPUT, text[len(INPUT_PREFIX) :]
    for kind in (Binding.CAPACITY, Binding.ORDERS):
        if text == label(kind):
            return kind, None
    raise ValueError(
        f"not a binding label: {text!r} (expected 'capacity', 'orders' or 'input:<product>')"
    )


def labels(products: list[str]) -> np.ndarray:
    """The label of each kernel code, indexed by code: capacity, orders, then each input."""
    plain = sorted(kind for kind in Binding if kind < Binding.INPUT)  # codes 0 .. INPUT-1
    return np.array([label(kind) for kind in plain] + [label(Binding.INPUT, p) for p in products])


def is_input(values: np.ndarray) -> np.ndarray:
    """Elementwise: whether each label names an input."""
    out: np.ndarray = np.char.startswith(np.asarray(values).astype(str), INPUT_PREFIX)
    return out


def is_label(text: object) -> bool:
    """Whether ``text`` is a binding label (a string :func:`parse` accepts)."""
    if not isinstance(text, str):
        return False
    try:
        parse(text)
    except ValueError:
        return False
    return True


def input_product(text: str) -> str | None:
    """The product an ``input:<product>`` label names; ``None`` for capacity or orders."""
    return parse(text)[1]
