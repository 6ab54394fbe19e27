"""A picture per calibrated core: how the delay grew at each offered load, the knee marked."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure

from hil.calibration.search import CoreResult


def plot_core(path: str | os.PathLike, result: CoreResult, belief: float | None = None) -> Path:
    """Delay growth over each step against the offered SynOps/s; the knee (with its
    interval) and the budget the harness believed before."""
    steps = [s for s in result.steps if s.grows is not None]
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    for grows, colour, label in ((False, "tab:green", "flat"), (True, "tab:red", "grows")):
        chosen = [s for s in steps if s.grows is grows]
        ax.plot(
            [s.offered_synops_per_s for s in chosen],
            [max(s.growth_us, 0.0) / 1e3 for s in chosen],
            "o",
            color=colour,
            label=f"delay {label}",
        )
    low, high = result.synops_per_s_ci
    ax.axvspan(low, high, color="tab:blue", alpha=0.2)
    ax.axvline(result.synops_per_s, color="tab:blue", label=f"knee {result.synops_per_s:.4g}")
    if belief is not None:
        ax.axvline(belief, color="grey", ls="--", label=f"believed {belief:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("offered load (SynOps/s)")
    ax.set_ylabel("delay growth over the step (ms)")
    ax.set_title(
        f"core {result.core}: budget {result.synops_per_s:.4g} SynOps/s "
        f"({low:.4g}–{high:.4g}), latency {result.latency_us:.3g} µs"
    )
    ax.legend(loc="upper left", fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
