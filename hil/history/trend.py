"""The trend picture of one series: values over runs, limits, marginal band, changes.

Only matplotlib's object API (no pyplot), so nothing depends on a display.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from hil.history.changes import Change
from hil.history.store import Point, SeriesKey

COLORS = {"worse": "tab:red", "better": "tab:green", "changed": "tab:orange"}


def plot_trend(
    path: str | os.PathLike, key: SeriesKey, points: list[Point], changes: list[Change]
) -> Path:
    """Write the PNG; returns its path."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    ax = figure.subplots()
    runs = list(range(len(points)))
    values = [float("nan") if p.value is None else p.value for p in points]
    ax.plot(runs, values, ".-", lw=0.8, ms=4, color="tab:blue", label="value")
    last = points[-1] if points else None
    if last is not None:
        _limits(ax, last)
    bounds = [0, *(c.index for c in changes), len(points)]
    for i, change in enumerate(changes):
        color = COLORS[change.direction]
        ax.axvline(change.index - 0.5, color=color, lw=1.2, ls="--")
        ax.hlines(change.before, bounds[i], change.index - 0.5, color=color, lw=2, alpha=0.6)
        ax.hlines(change.after, change.index - 0.5, bounds[i + 2] - 1, color=color, lw=2, alpha=0.6)
        ax.annotate(
            f"{change.direction} {change.effect:+.1%}\np={change.p:.2g}",
            (change.index - 0.5, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
            color=color,
        )
    if points:
        step = max(1, len(points) // 8)
        ax.set_xticks(runs[::step], [p.started.strftime("%Y-%m-%d") for p in points[::step]])
        ax.tick_params(axis="x", labelsize=8, labelrotation=20)
    unit = last.unit if last is not None else ""
    ax.set_ylabel(unit or "value")
    ax.set_xlabel("run (by start time)")
    ax.set_title(str(key), fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path


def _limits(ax, point: Point) -> None:
    band = point.marginal or 0
    if point.upper is not None:
        ax.axhline(point.upper, color="red", lw=1, label="limit")
        if band:
            ax.axhspan(point.upper - band, point.upper, color="orange", alpha=0.2, label="marginal")
    if point.lower is not None:
        ax.axhline(
            point.lower, color="red", lw=1, label=None if point.upper is not None else "limit"
        )
        if band:
            ax.axhspan(point.lower, point.lower + band, color="orange", alpha=0.2)
