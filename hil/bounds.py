"""Sizes implied by input, bounded before memory is allocated.

A recording's time span, a device profile's SynOps budget or a run's output delay decide how
long some arrays become (a ms index, a SynOps/s series, sinabs' time-stepped frames). A Unix
epoch timestamp or a budget in the wrong unit turns those into terabytes; the harness refuses
them here, with a message naming what asked for the array, instead of dying for memory.
"""

from __future__ import annotations

#: The largest array one analysis step may allocate (bytes).
MAX_ARRAY_BYTES = 2 << 30


class SizeError(ValueError):
    """An array the input asks for is too large to allocate."""


def check_array_size(what: str, items: int, item_bytes: int, why: str = "") -> None:
    """Refuse an array of ``items`` elements of ``item_bytes`` each above ``MAX_ARRAY_BYTES``.

    ``what`` names the array and ``why`` what made it that large (a span, a budget)."""
    nbytes = int(items) * int(item_bytes)
    if nbytes > MAX_ARRAY_BYTES:
        because = f" ({why})" if why else ""
        raise SizeError(
            f"{what} would need {_human(nbytes)}, more than the {_human(MAX_ARRAY_BYTES)} "
            f"allowed{because}"
        )


def _human(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"
