"""Figures an attack test measures (requests sent, faults injected, events stored, lost
and duplicated, tampering found, fuzz cases), kept as pytest user properties so that
``make attack`` (``bench/attack.py``) reports what the run measured, not what a table
once said. A plain ``pytest`` run ignores them."""

from __future__ import annotations

import pytest

Figure = int | str


def record(node: pytest.Item, **figures: Figure) -> None:
    """Add figures to the test's report: numbers are summed by name, texts listed."""
    node.user_properties.extend((name.replace("_", " "), value) for name, value in figures.items())


def tally(node: pytest.Item, name: str) -> None:
    """Count one more of ``name`` (a fuzz case, say) in one figure, not one per call."""
    label = name.replace("_", " ")
    for index, (key, value) in enumerate(node.user_properties):
        if key == label and isinstance(value, int):
            node.user_properties[index] = (key, value + 1)
            return
    node.user_properties.append((label, 1))
