"""Faults an emulated board can have (``[faults]`` in ``HIL_SIM_PROFILE``), for the doctor.

Like ``[noise]``, this is what an emulated chip *is*, never what the harness believes: only
the emulator reads it, and ``speck-hil doctor`` must find each fault by measuring. All off by
default.

- ``dead_cores``: cores that never fire (they take inputs and emit nothing, so they route
  nothing on either).
- ``missing_power_monitor``: the board has no power monitor (``get_power_monitor`` raises, as
  samna does for a board without one).
- ``zero_timestamps``: old firmware stamps every power sample 0 (facts.md §8).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class BoardFaults:
    """What is wrong with an emulated board (``[faults]``)."""

    dead_cores: tuple[int, ...] = ()
    missing_power_monitor: bool = False
    zero_timestamps: bool = False


def faults_from_table(table: object, n_cores: int, source: str) -> BoardFaults:
    """``[faults]`` as a BoardFaults; a ValueError naming the first field that is wrong."""
    if not isinstance(table, dict):
        raise ValueError(f"{source}: faults must be a table")
    known = {f.name for f in fields(BoardFaults)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(
            f"{source}: faults.{unknown[0]} is not a fault (known: {', '.join(sorted(known))})"
        )
    values: dict = {}
    dead = table.get("dead_cores", [])
    if not isinstance(dead, list) or not all(_is_int(c) for c in dead):
        raise ValueError(
            f"{source}: faults.dead_cores must be a list of core indices; got {dead!r}"
        )
    bad = [c for c in dead if not 0 <= c < n_cores]
    if bad:
        raise ValueError(f"{source}: faults.dead_cores: no core {bad[0]} (0..{n_cores - 1})")
    values["dead_cores"] = tuple(sorted(set(dead)))
    for flag in ("missing_power_monitor", "zero_timestamps"):
        value = table.get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"{source}: faults.{flag} must be true or false; got {value!r}")
        values[flag] = value
    return BoardFaults(**values)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
