"""Run records and pytest-benchmark files, read into one shape the store keeps.

A speck-hil run record (``hil.plugin.record``, version 2) is one run of the suite on one device; a
pytest-benchmark JSON file is one run of host benchmarks on one machine. Both become a
``RunEntry``: provenance plus one ``Result`` per measured value, so host benchmarks and chip
measurements trend in one place. Anything else is refused with one line naming the file and
the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.history.validate import RecordProblem, check_record, parse_json
from hil.measurement import BETTER

RECORD_FORMAT = "speck-hil run record"
RECORD_VERSION = 2
BENCHMARK_STATS = ("median", "mean", "min")  # seconds; lower is better


class HistoryError(Exception):
    """Bad input for the history (a file, a field, a database): one line for the user."""


@dataclass
class Result:
    """One measured value of one test in one run."""

    test: str
    measurement: str
    value: float | None  # None: not a number (NaN, inf)
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    marginal: float | None = None
    outcome: str = ""
    better: str | None = None  # lower, higher, zero or target (``hil.measurement.BETTER``)
    serial: str = ""  # the board that measured it, when not the run's one (a pool)
    target: float | None = None  # with better "target": the value nearest which is best


@dataclass
class Replay:
    test: str
    recording: str
    sha256: str | None
    config_hash: str | None


@dataclass
class RunEntry:
    """One run, as the store keeps it."""

    run_id: str
    started: dt.datetime
    source: str  # "pytest", "run record" or "pytest-benchmark"
    ended: dt.datetime | None = None
    exitstatus: int | None = None
    host: str = ""
    git_commit: str | None = None
    git_branch: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    device_type: str = ""
    serial: str = ""
    logic_version: str | None = None
    profile: str = ""
    profile_sha256: str | None = None
    budgets_measured: bool | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)


def read_file(path: Path) -> RunEntry:
    """A run record or a pytest-benchmark file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"{path}: cannot be read: {exc}") from None
    try:
        data = parse_json(text, str(path))
        if isinstance(data, dict) and data.get("format") == RECORD_FORMAT:
            check_record(data, str(path), RECORD_VERSION)
    except RecordProblem as exc:
        raise HistoryError(str(exc)) from None
    if isinstance(data, dict) and data.get("format") == RECORD_FORMAT:
        return from_record(data, where=str(path), source="run record")
    if isinstance(data, dict) and "benchmarks" in data and "machine_info" in data:
        return from_benchmark(data, where=str(path), digest=hashlib.sha256(text.encode()))
    raise HistoryError(
        f"{path}: neither a speck-hil run record (field 'format') nor a pytest-benchmark "
        "file (fields 'benchmarks', 'machine_info')"
    )


def from_record(data: dict, where: str = "run record", source: str = "pytest") -> RunEntry:
    """A run record (``RunRecord.as_dict()``) as a ``RunEntry``."""
    version = data.get("version")
    if version != RECORD_VERSION:
        age = "older" if isinstance(version, int) and version < RECORD_VERSION else "other"
        raise HistoryError(
            f"{where}: run record format version {version!r} is {age} than the version "
            f"{RECORD_VERSION} the history reads (it lacks the provenance); re-run the suite"
        )
    session = _field(data, "session", dict, where)
    tests = _field(data, "tests", list, where)
    provenance = _field(session, "provenance", dict, f"{where}: session")
    versions = provenance.get("versions") or {}
    git = provenance.get("git") or {}
    profile = provenance.get("profile") or {}
    device = session.get("device") or {}
    entry = RunEntry(
        run_id=str(_field(session, "run_id", str, f"{where}: session")),
        started=_time(session.get("started"), f"{where}: session.started"),
        ended=_time(session["ended"], f"{where}: session.ended") if session.get("ended") else None,
        exitstatus=session.get("exitstatus"),
        source=source,
        host=str((provenance.get("host") or {}).get("name", "")),
        git_commit=git.get("commit"),
        git_branch=git.get("branch"),
        versions=dict(versions),
        device_type=str(device.get("device_type", "")),
        serial=str(device.get("serial", "")),
        logic_version=device.get("logic_version"),
        profile=str(profile.get("name", "")),
        profile_sha256=profile.get("sha256"),
        budgets_measured=profile.get("budgets_measured"),
        provenance={"session": dict(session)},
    )
    for index, test in enumerate(tests):
        at = f"{where}: tests[{index}]"
        if not isinstance(test, dict) or not isinstance(test.get("nodeid"), str):
            raise HistoryError(f"{at}: expected an object with a 'nodeid'")
        for m_index, m in enumerate(_field(test, "measurements", list, at)):
            result = _result(test["nodeid"], m, f"{at}.measurements[{m_index}]")
            result.serial = str(test.get("serial") or "")
            entry.results.append(result)
        for replay in test.get("replays") or []:
            entry.replays.append(
                Replay(
                    test["nodeid"],
                    str(replay.get("recording", "")),
                    replay.get("sha256"),
                    replay.get("config_hash"),
                )
            )
    return entry


def from_benchmark(data: dict, where: str, digest: Any) -> RunEntry:
    """A pytest-benchmark JSON file: one series per benchmark and statistic, on the host
    (``serial`` "host:NAME") since host benchmarks have no board."""
    machine = _field(data, "machine_info", dict, where)
    commit = data.get("commit_info") or {}
    node = str(machine.get("node", ""))
    entry = RunEntry(
        run_id=f"pytest-benchmark:{digest.hexdigest()}",
        started=_time(data.get("datetime"), f"{where}: datetime"),
        source="pytest-benchmark",
        host=node,
        git_commit=commit.get("id"),
        git_branch=commit.get("branch"),
        versions={"pytest-benchmark": data.get("version"), "python": machine.get("python_version")},
        serial=f"host:{node}",
        provenance={"machine_info": machine, "commit_info": commit},
    )
    for index, bench in enumerate(_field(data, "benchmarks", list, where)):
        at = f"{where}: benchmarks[{index}]"
        if not isinstance(bench, dict):
            raise HistoryError(f"{at}: expected an object")
        name = bench.get("fullname") or bench.get("name")
        stats = _field(bench, "stats", dict, at)
        if not isinstance(name, str):
            raise HistoryError(f"{at}: no 'fullname'")
        for stat in BENCHMARK_STATS:
            value = _number(stats.get(stat), f"{at}.stats.{stat}")
            entry.results.append(Result(name, stat, value, "s", better="lower"))
    return entry


def _result(test: str, m: Any, at: str) -> Result:
    if not isinstance(m, dict) or not isinstance(m.get("name"), str):
        raise HistoryError(f"{at}: expected a measurement object with a 'name'")
    better = m.get("better")
    if better not in BETTER:
        raise HistoryError(
            f"{at}.better: expected one of {', '.join(map(str, BETTER[1:]))}, got {better!r}"
        )
    target = _limit(m.get("target"), f"{at}.target")
    if (better == "target") != (target is not None):
        raise HistoryError(f"{at}: better 'target' needs a numeric 'target', and only it has one")
    value = m.get("value")
    return Result(
        test=test,
        measurement=m["name"],
        value=None if isinstance(value, str) else _number(value, f"{at}.value"),
        unit=str(m.get("unit", "")),
        lower=_limit(m.get("lower"), f"{at}.lower"),
        upper=_limit(m.get("upper"), f"{at}.upper"),
        marginal=_limit(m.get("marginal"), f"{at}.marginal"),
        outcome=str(m.get("outcome", "")),
        better=better,
        target=target,
    )


def _limit(value: Any, at: str) -> float | None:
    if value is None or isinstance(value, str):  # "inf": no limit on that side
        return None
    return _number(value, at)


def _number(value: Any, at: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HistoryError(f"{at}: expected a number, got {value!r}")
    return float(value) if math.isfinite(value) else None


def _field(data: dict, name: str, kind: type, where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise HistoryError(f"{where}: field {name!r} missing or not a {kind.__name__}")
    return value


def _time(text: Any, where: str) -> dt.datetime:
    """An ISO time; one without a zone is taken as UTC (pytest-benchmark writes those)."""
    if not isinstance(text, str):
        raise HistoryError(f"{where}: expected an ISO time, got {text!r}")
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(f"{where}: not an ISO time: {text!r}") from None
    return time if time.tzinfo else time.replace(tzinfo=dt.timezone.utc)
