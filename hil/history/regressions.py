"""Every series of a history through the change-point detector: what changed, since when.

A finding is a confirmed change in one series, with the run where it started (its commit,
versions and start time). A regression is *open* while it is the last change of its series:
no later change has brought the series back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from hil.history.changes import ALPHA, MIN_EFFECT, Change, change_points, worse_when
from hil.history.store import Point, SeriesKey


@dataclass(frozen=True)
class Finding:
    key: SeriesKey
    change: Change
    run: Point  # the first run after the change
    open: bool  # the last change of its series
    previous: Point | None = None  # the last run before it

    def what_changed(self) -> str:
        """What differs between the runs either side of the change: versions, board logic,
        profile content, host ("" when only the tested code did)."""
        if self.previous is None:
            return ""
        old, new = self.previous.provenance(), self.run.provenance()
        return ", ".join(f"{k} {old[k]}→{new[k]}" for k in new if old.get(k) != new[k])

    @property
    def is_regression(self) -> bool:
        return self.change.direction != "better"

    def as_json(self) -> dict:
        return {
            "series": self.key.name,
            "serial": self.key.serial,
            "direction": self.change.direction,
            "started": self.run.started.isoformat(),
            "commit": self.run.git_commit,
            "before": self.change.before,
            "after": self.change.after,
            "p": self.change.p,
        }


def series_changes(
    points: list[Point], alpha: float = ALPHA, min_effect: float = MIN_EFFECT
) -> list[Change]:
    """The confirmed changes of one series; which way is worse comes from its latest run's
    declaration or limits."""
    if not points:
        return []
    values = np.array([np.nan if p.value is None else p.value for p in points])
    last = points[-1]
    return change_points(values, worse_when(last.better, last.lower, last.upper), alpha, min_effect)


def find(
    history: dict[SeriesKey, list[Point]],
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    since: dt.datetime | None = None,
) -> list[Finding]:
    """Every confirmed change of every series, oldest first; ``since`` keeps those that
    started at or after it."""
    found = []
    for key, points in history.items():
        changes = series_changes(points, alpha, min_effect)
        for i, change in enumerate(changes):
            previous = points[change.index - 1] if change.index else None
            last = i == len(changes) - 1
            found.append(Finding(key, change, points[change.index], last, previous))
    if since is not None:
        found = [f for f in found if f.run.started >= since]
    return sorted(found, key=lambda f: (f.run.started, str(f.key)))


def open_regressions(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.open and f.is_regression]
