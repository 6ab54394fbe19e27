"""The trend picture of one series: values over runs, limits, marginal band, changes
coloured by where they stand (open, recovered, accepted, better).

Only matplotlib's object API (no pyplot), so nothing depends on a display.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from hil.history.regressions import Finding
from hil.history.series import History, Series

#: a change's colour by its finding's state
COLORS = {
    "open": "tab:red",
    "recovered": "tab:purple",
    "accepted": "tab:blue",
    "better": "tab:green",
    "recovery": "tab:green",
}


def plot_trend(
    path: str | os.PathLike, history: History, series: Series, findings: list[Finding]
) -> Path:
    """Write the PNG; returns its path."""
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    ax = figure.subplots()
    runs = list(range(len(series.values)))
    ax.plot(runs, series.values, ".-", lw=0.8, ms=4, color="tab:blue", label="value")
    _limits(ax, series)
    bounds = [0, *(f.change.index for f in findings), len(runs)]
    for i, finding in enumerate(findings):
        change = finding.change
        color = COLORS.get(finding.state, "tab:orange")
        if change.direction == "changed" and finding.state == "open":
            color = "tab:orange"
        ax.axvline(change.index - 0.5, color=color, lw=1.2, ls="--")
        ax.hlines(change.before, bounds[i], change.index - 0.5, color=color, lw=2, alpha=0.6)
        end = bounds[i + 2] - 1
        if change.kind == "drift":  # a ramp: from the old level to the level it reached
            ax.plot(
                [change.index - 0.5, end],
                [change.before, change.after],
                color=color,
                lw=2,
                alpha=0.6,
            )
        else:
            ax.hlines(change.after, change.index - 0.5, end, color=color, lw=2, alpha=0.6)
        ax.annotate(
            f"{finding.state} {change.effect_text(series.unit)}\np={change.p:.2g}",
            (change.index - 0.5, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
            color=color,
        )
    if runs:
        step = max(1, len(runs) // 8)
        dates = [history.runs[int(r)].started.strftime("%Y-%m-%d") for r in series.runs[::step]]
        ax.set_xticks(runs[::step], dates)
        ax.tick_params(axis="x", labelsize=8, labelrotation=20)
    ax.set_ylabel(series.unit or "value", parse_math=False)  # a `$` in a name is text, not TeX
    ax.set_xlabel("run (by start time)")
    ax.set_title(str(series.key), fontsize=9, parse_math=False)
    ax.legend(loc="lower left", fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=72)
    return path


def _limits(ax, series: Series) -> None:
    band = series.marginal or 0
    if series.upper is not None:
        ax.axhline(series.upper, color="red", lw=1, label="limit")
        if band:
            ax.axhspan(
                series.upper - band, series.upper, color="orange", alpha=0.2, label="marginal"
            )
    if series.lower is not None:
        ax.axhline(
            series.lower, color="red", lw=1, label=None if series.upper is not None else "limit"
        )
        if band:
            ax.axhspan(series.lower, series.lower + band, color="orange", alpha=0.2)
