"""Stands in for the ``samnagui`` module, which sinabs imports at top level."""

from __future__ import annotations

from typing import Any


def run_visualizer(*args: Any, **kwargs: Any) -> None:
    """samna's GUI needs real samna; the emulator has none."""
    raise RuntimeError("samnagui's visualizer needs the real samna; it is not installed here")
