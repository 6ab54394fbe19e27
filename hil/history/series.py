"""A history as loaded for detection: the runs once, and each series as arrays.

A lab's year is about 2000 runs of 200 series: 400,000 values. Holding each as an object
costs seconds before any detection starts, so a series is two arrays (the index of its run
in ``History.runs``, its value) and what its latest run said about it (unit, limits, which
way is better); the runs carry the provenance a change is traced to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

#: pytest's exit status of a session stopped by Ctrl-C (``pytest.ExitCode.INTERRUPTED``)
INTERRUPTED = 2


@dataclass(frozen=True)
class SeriesKey:
    test: str
    measurement: str
    serial: str
    profile: str

    @property
    def name(self) -> str:
        return f"{self.test}::{self.measurement}"

    def __str__(self) -> str:
        where = " ".join(p for p in (self.serial, self.profile) if p)
        return f"{self.name} [{where}]" if where else self.name


@dataclass(frozen=True)
class RunInfo:
    """One stored run and where it came from."""

    index: int  # in History.runs (by start time)
    run_id: str
    started: dt.datetime
    source: str = "pytest"
    host: str = ""
    git_commit: str | None = None  # the suite's
    git_branch: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    device_type: str = ""
    serial: str = ""
    logic_version: str | None = None
    profile: str = ""
    profile_sha256: str | None = None
    harness_commit: str | None = None  # the harness's own, when it ran from a checkout
    emulated_truth: str | None = None  # HIL_SIM_PROFILE and the truth's content hash
    exitstatus: int | None = None
    results: int = 0
    ended: dt.datetime | None = None  # None: the session never ended (killed)

    @property
    def state(self) -> str:
        """How the session ended: "exit N", "interrupted" (Ctrl-C: pytest's exit status 2,
        what finished is stored) or "incomplete" (killed: no end recorded, what finished
        is stored). Every value stored was measured by a test that finished, so detection
        counts them all; a run that ended early only measured fewer series."""
        if self.ended is None:
            return "incomplete"
        if self.exitstatus == INTERRUPTED:
            return "interrupted"
        return f"exit {self.exitstatus}" if self.exitstatus is not None else "-"

    def provenance(self) -> dict[str, str | None]:
        """What a change can be traced to, by name: versions, commits of the suite and the
        harness, profile content, emulated truth, host, board."""
        return {
            **{k: v for k, v in self.versions.items()},
            "suite commit": (self.git_commit or "")[:10] or None,
            "harness commit": (self.harness_commit or "")[:10] or None,
            "profile": (self.profile_sha256 or "")[:8] or None,
            "emulated truth": self.emulated_truth,
            "host": self.host or None,
            "board": " ".join(x for x in (self.device_type, self.logic_version or "") if x) or None,
        }


@dataclass
class Series:
    """One measurement of one test on one board and profile, in run order."""

    key: SeriesKey
    runs: np.ndarray  # int: indices into History.runs, ascending
    values: np.ndarray  # float, NaN where the value was not a number
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    marginal: float | None = None
    better: str | None = None
    target: float | None = None


@dataclass
class History:
    """Runs by start time and every series over them."""

    runs: list[RunInfo]
    series: dict[SeriesKey, Series]
    _weekday: np.ndarray | None = field(default=None, repr=False, compare=False)

    def weekdays(self, series: Series) -> np.ndarray:
        """The weekday of each run of ``series`` (a lab's weekly rhythm)."""
        if self._weekday is None or len(self._weekday) != len(self.runs):
            self._weekday = np.array([r.started.weekday() for r in self.runs], dtype=int)
        return self._weekday[series.runs]
