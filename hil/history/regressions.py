"""Every series of a history through the change-point detector, and what each change means.

A series' changes are read in order against its baseline, the level it is expected at:

- a change for the worse (or of unknown direction) opens a finding, dated at the first run
  after it;
- a later change back to the baseline closes every open finding of the series as
  *recovered* (with the run that recovered it) and opens nothing, whichever way it went;
- a change a lab accepted (``speck-hil history accept``) is *accepted*, with who, when and
  why, and its level becomes the baseline: a change after that is judged against it;
- a change for the better moves the baseline there.

Every finding keeps its state and dates; later changes never erase earlier ones. Findings
that start in the same run on the same board are one incident (``hil.history.incidents``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hil.history.changes import (
    ALPHA,
    MIN_EFFECT,
    Change,
    change_points,
    direction_of,
    worse_when,
)
from hil.history.series import History, RunInfo, Series, SeriesKey
from hil.history.store import Acceptance

#: states of a finding
OPEN, RECOVERED, ACCEPTED, BETTER, RECOVERY = "open", "recovered", "accepted", "better", "recovery"


@dataclass
class Finding:
    """One confirmed change of one series, and where it stands."""

    key: SeriesKey
    change: Change
    run: RunInfo  # the first run after the change
    previous: RunInfo | None  # the last run before it
    state: str
    unit: str = ""
    closed: RunInfo | None = None  # the run that recovered it
    acceptance: Acceptance | None = None
    incident: str = ""  # the incident's id, for findings that open one

    @property
    def is_regression(self) -> bool:
        return self.change.direction == "worse"

    @property
    def opens_incident(self) -> bool:
        return self.state in (OPEN, RECOVERED, ACCEPTED)

    @property
    def fails_gate(self) -> bool:
        return self.state == OPEN and self.is_regression

    def what_changed(self) -> str:
        return what_changed(self.previous, self.run)

    def as_json(self) -> dict:
        c = self.change
        return {
            "series": self.key.name,
            "serial": self.key.serial,
            "profile": self.key.profile,
            "direction": c.direction,
            "kind": c.kind,
            "state": self.state,
            "incident": self.incident or None,
            "started": self.run.started.isoformat(),
            "run_id": self.run.run_id,
            "commit": self.run.git_commit,
            "before": c.before,
            "after": c.after,
            "effect": c.effect,
            "effect_relative": c.relative,
            "unit": self.unit,
            "p": c.p,
            "recovered": self.closed.started.isoformat() if self.closed else None,
            "accepted": _acceptance_json(self.acceptance),
        }


def what_changed(previous: RunInfo | None, run: RunInfo) -> str:
    """What differs between two runs: versions, commits, profile, emulated truth, host,
    board ("" when nothing did)."""
    if previous is None:
        return ""
    old, new = previous.provenance(), run.provenance()
    return ", ".join(f"{k} {old.get(k)}→{new[k]}" for k in new if old.get(k) != new[k])


def series_findings(
    history: History,
    series: Series,
    acceptances: list[Acceptance] = (),
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> list[Finding]:
    """The findings of one series, in run order."""
    worse = worse_when(series.better, series.lower, series.upper, series.target)
    changes = change_points(
        series.values,
        worse,
        alpha,
        min_effect,
        weekdays=history.weekdays(series),
        target=series.target,
    )
    accepted = _accepted(history, series, changes, acceptances)
    found: list[Finding] = []
    opened: list[Finding] = []
    baseline = None
    for i, change in enumerate(changes):
        run = history.runs[series.runs[change.index]]
        previous = history.runs[series.runs[change.index - 1]] if change.index else None
        finding = Finding(series.key, change, run, previous, BETTER, series.unit)
        found.append(finding)
        if i in accepted:
            finding.state, finding.acceptance = ACCEPTED, accepted[i]
            for earlier in opened:
                earlier.state, earlier.acceptance = ACCEPTED, accepted[i]
            opened, baseline = [], change.after
        elif opened and _back(change, baseline, worse, series.target, min_effect):
            finding.state = RECOVERY
            for earlier in opened:
                earlier.state, earlier.closed = RECOVERED, run
            opened = []
        elif change.direction != "better" and (
            not opened or _farther(change, baseline, worse, series.target)
        ):
            finding.state = OPEN
            if not opened:
                baseline = change.before
            opened.append(finding)
        elif not opened:
            baseline = change.after
    return found


def _back(change: Change, baseline: float, worse, target, min_effect: float) -> bool:
    """The series is back at (or better than) its level before the open findings."""
    if change.near(baseline, change.after, min_effect):
        return True
    if worse is None:
        return False
    return direction_of(baseline, change.after, worse, target) == "better"


def _farther(change: Change, baseline: float, worse, target) -> bool:
    """A change that moved further from the baseline than the level it left (a second
    regression on top of an open one)."""
    if worse is None:
        return abs(change.after - baseline) > abs(change.before - baseline)
    return direction_of(change.before, change.after, worse, target) == "worse"


def _accepted(
    history: History, series: Series, changes: list[Change], acceptances: list[Acceptance]
) -> dict[int, Acceptance]:
    """Which change each acceptance of this series is for: the last change that started at
    or before the latest run the lab saw when accepting (a change re-dated by later runs
    stays accepted)."""
    mine = [a for a in acceptances if a.key == series.key]
    if not mine or not changes:
        return {}
    starts = np.array([history.runs[series.runs[c.index]].started.timestamp() for c in changes])
    found: dict[int, Acceptance] = {}
    for acceptance in mine:
        before = np.flatnonzero(starts <= acceptance.through.timestamp())
        if len(before):
            found[int(before[-1])] = acceptance
    return found


def find(
    history: History,
    acceptances: list[Acceptance] = (),
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> list[Finding]:
    """Every finding of every series, oldest first."""
    found = []
    for series in history.series.values():
        found += series_findings(history, series, acceptances, alpha, min_effect)
    return sorted(found, key=lambda f: (f.run.started, str(f.key)))


def _acceptance_json(acceptance: Acceptance | None) -> dict | None:
    if acceptance is None:
        return None
    return {"who": acceptance.who, "at": acceptance.at.isoformat(), "reason": acceptance.reason}
