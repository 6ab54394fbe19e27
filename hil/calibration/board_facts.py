"""Board facts: what ``speck-hil doctor`` measured on one board, as a TOML file.

Layout (every table is written; a figure the doctor could not measure is left out):

- ``[board]``: ``device``, ``device_type``, ``serial``, ``usb`` (bus:address), ``samna_version``,
  ``logic_version``, ``date`` (UTC), ``tool``, ``quick`` (whether ``--quick`` measured it).
- ``[timestamps]``: ``healthy`` (non-zero, increasing, µs), ``us_per_host_us`` (stop-watch µs
  per host µs), ``stamps_us`` and ``host_s`` (the reads it rests on).
- ``[timing]``: ``config_write_s`` (the slowest configuration write measured: from
  ``apply_configuration`` to the first read that sees it), ``config_write_s_by_size``,
  ``latency_us`` (one event through one core), ``leak_ticks_per_s``.
- ``[cores]``: ``inputs`` (per core), ``outputs`` (per core 0..8), ``healthy`` (cores that
  passed), ``stochastic_tolerance``.
- ``[power]``: ``rails``, ``idle_w`` (mean per rail), ``sample_hz``; absent without a monitor.
- ``[checks]``: each check's outcome (``cores`` as the worst of its cores).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from hil.files import unreadable_file, write_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOOL = "speck-hil doctor"
#: A board's configuration write may take this many times what doctor measured before the
#: barrier read after it gives up (never less than the harness's default).
WRITE_TIMEOUT_FACTOR = 10.0


@dataclass(frozen=True)
class BoardFacts:
    """The figures a session can use: None where the doctor measured none."""

    serial: str
    date: str
    config_write_s: float | None
    latency_us: float | None
    timestamps_healthy: bool | None
    healthy_cores: tuple[int, ...] | None


def facts_document(report) -> dict:
    """A doctor report (``hil.calibration.doctor.DoctorReport``) as the board facts' tables."""
    facts = report.facts
    identity = {k: v for k, v in facts.get("identity", {}).items() if v is not None}
    writes = facts.get("config_write_s") or {}
    timing = {
        "config_write_s": max(writes.values()) if writes else None,
        "config_write_s_by_size": {name.replace(" ", "_"): s for name, s in writes.items()},
        "latency_us": facts.get("latency_us"),
        "leak_ticks_per_s": facts.get("leak_ticks_per_s"),
    }
    cores = dict(facts.get("cores") or {})
    if "outputs" in cores:
        cores["outputs"] = list(cores["outputs"].values())
    checks: dict[str, str] = {}
    for finding in report.findings:
        if checks.get(finding.check) != "fail":
            checks[finding.check] = finding.outcome
    document = {
        "board": {**identity, "date": report.date, "tool": TOOL, "quick": report.quick},
        "timestamps": facts.get("timestamps") or {},
        "timing": {k: v for k, v in timing.items() if v not in (None, {})},
        "cores": cores,
        "checks": checks,
    }
    if facts.get("power"):
        document["power"] = facts["power"]
    return document


def write_facts(path: Path, report) -> None:
    """Write ``report``'s board facts to ``path`` (replaced whole, never half-written)."""
    text = f"# {TOOL}: board facts (layout: hil/calibration/board_facts.py)\n" + tomli_w.dumps(
        facts_document(report)
    )
    write_atomic(path, text)


def read_facts(path: Path) -> BoardFacts:
    """The figures of a board facts file; ValueError naming the file and what is wrong."""
    problem = unreadable_file(path)
    if problem:
        raise ValueError(f"{path}: cannot read the board facts: {problem}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not a board facts file (TOML): {exc}") from None
    board, timing = data.get("board", {}), data.get("timing", {})
    if board.get("tool") != TOOL:
        raise ValueError(f"{path}: not a board facts file ([board] tool is not {TOOL!r})")
    healthy = data.get("cores", {}).get("healthy")
    write_s = timing.get("config_write_s")
    if write_s is not None and not (isinstance(write_s, int | float) and write_s >= 0):
        raise ValueError(f"{path}: timing.config_write_s must be seconds >= 0, not {write_s!r}")
    return BoardFacts(
        serial=str(board.get("serial", "")),
        date=str(board.get("date", "")),
        config_write_s=None if write_s is None else float(write_s),
        latency_us=timing.get("latency_us"),
        timestamps_healthy=data.get("timestamps", {}).get("healthy"),
        healthy_cores=None if healthy is None else tuple(int(c) for c in healthy),
    )


def use_facts(device: Any, facts: BoardFacts) -> str | None:
    """Let an open device rest on what doctor measured of its board: the barriers that wait
    for a configuration to be written (after every ``apply_configuration``, and recovery's
    probe) wait ``WRITE_TIMEOUT_FACTOR`` times the measured write time, never less than their
    defaults, so a slow board is not taken for a silent one. Returns what changed, for the
    session's notes, or None."""
    if facts.config_write_s is None:
        return None
    wait_s = WRITE_TIMEOUT_FACTOR * facts.config_write_s
    device.probe_timeout_s = max(device.probe_timeout_s, wait_s)
    timeout = device.probe_timeout_s
    if hasattr(device, "config_write_timeout_s"):
        device.config_write_timeout_s = max(device.config_write_timeout_s, wait_s)
        timeout = device.config_write_timeout_s
    return (
        f"doctor's board facts of {facts.date}: configuration write {facts.config_write_s:.3g} s, "
        f"so the barrier read after one waits up to {timeout:g} s"
    )


def rest_on_board_facts(device: Any, lock_dir: Path | None = None) -> str | None:
    """``use_facts`` with the facts doctor keeps for ``device``'s board in the lock folder
    (``HIL_LOCK_DIR`` unless ``lock_dir``); None without any."""
    from hil.backends.samna_backend import SamnaDevice
    from hil.backends.samna_boards import board_id
    from hil.lab.health import HealthStore, board_of
    from hil.lab.pool import default_lock_dir

    if not isinstance(device, SamnaDevice):
        return None
    board = board_of(device.info, board_id(device.board().device_info))
    path = HealthStore(lock_dir or default_lock_dir()).facts_path(board)
    return use_facts(device, read_facts(path)) if path.is_file() else None
