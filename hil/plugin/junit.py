"""Measurements as JUnit properties a CI dashboard can plot: one number per property.

For a measurement ``NAME``: ``NAME`` = its value, ``NAME.lower`` and ``NAME.upper`` = its limits
(only the sides it has), ``NAME.unit`` and ``NAME.outcome`` (pass, marginal, fail).
Non-finite values are written as ``nan``, ``inf`` and ``-inf``.
"""

from __future__ import annotations

from collections.abc import Iterable

from hil.measurement import Measurement


def properties(measurements: Iterable[Measurement]) -> list[tuple[str, object]]:
    """(name, value) pairs for ``item.user_properties``."""
    found: list[tuple[str, object]] = []
    for m in measurements:
        found.append((m.name, m.value))
        if m.lower is not None:
            found.append((f"{m.name}.lower", m.lower))
        if m.upper is not None:
            found.append((f"{m.name}.upper", m.upper))
        found.append((f"{m.name}.unit", m.unit))
        found.append((f"{m.name}.outcome", str(m.outcome)))
    return found
