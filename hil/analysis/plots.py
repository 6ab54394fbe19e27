"""One picture per replay: delay over time, SynOps/s per core, chip against reference, power.

A failing stall or budget check is easier to read as a curve crossing a line than as a
number; the picture is written to the test's artifacts on request or on failure. Only
matplotlib's object API is used (no pyplot), so nothing depends on a display.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from hil.analysis.agreement import LayerAgreement
from hil.analysis.power import PowerReport
from hil.analysis.stall import StallReport
from hil.analysis.synops import SynopsReport


def plot_run(
    path: str | os.PathLike,
    title: str,
    stall: StallReport | None = None,
    synops: SynopsReport | None = None,
    agreement: list[LayerAgreement] | None = None,
    power: PowerReport | None = None,
) -> Path:
    """Write a PNG with one panel per report given; returns its path."""
    panels = [p for p in (stall, synops, agreement, power) if p is not None]
    if not panels:
        raise ValueError("nothing to plot: give a stall report, a SynOps report or agreement")
    figure = Figure(figsize=(9, 3.2 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    figure.suptitle(title)
    ax = iter(axes)
    if stall is not None:
        _delay_panel(next(ax), stall)
    if synops is not None:
        _synops_panel(next(ax), synops)
    if agreement is not None:
        _agreement_panel(next(ax), agreement)
    if power is not None:
        _power_panel(next(ax), power)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _delay_panel(ax, stall: StallReport) -> None:
    delays = stall.delays
    caused_at = (delays.t_us - delays.delay_us) / 1e6
    for core in np.unique(delays.layer):
        chosen = delays.layer == core
        ax.plot(caused_at[chosen], delays.delay_us[chosen] / 1e3, ".", ms=2, label=f"core {core}")
    ax.axhline(stall.max_delay_us / 1e3, color="red", lw=1, ls="--", label="limit")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(bottom=0)
    verdict = "STALLED" if stall.stalled else "no stall"
    ax.set_title(
        f"output delay: {verdict}, max {stall.max_us / 1e3:.3g} ms, p99 {stall.p99_us / 1e3:.3g} ms"
    )
    ax.set_xlabel("time of the causing input (s)")
    ax.set_ylabel("delay (ms)")
    ax.legend(loc="upper right", fontsize="small")


def _synops_panel(ax, synops: SynopsReport) -> None:
    for core in synops.cores.values():
        line = ax.plot(
            core.window_start_us / 1e6, core.synops_per_s, lw=1, label=f"core {core.core}"
        )
        ax.axhline(core.budget_synops_per_s, color=line[0].get_color(), lw=1, ls="--")
    ax.set_title(f"SynOps/s per core over {synops.window_us / 1e3:g} ms windows (dashed: budget)")
    ax.set_xlabel("window start (s)")
    ax.set_ylabel("SynOps/s")
    ax.set_yscale("log")
    top = max(max(c.peak_synops_per_s, c.budget_synops_per_s) for c in synops.cores.values())
    ax.set_ylim(top=2 * top)
    ax.legend(loc="upper right", fontsize="small")


def _agreement_panel(ax, layers: list[LayerAgreement]) -> None:
    positions = np.arange(len(layers))
    ax.bar(positions - 0.2, [a.device_spikes for a in layers], 0.4, label="device")
    ax.bar(positions + 0.2, [a.reference_spikes for a in layers], 0.4, label="reference")
    ax.set_xticks(
        positions, [f"layer {a.layer}\ncore {a.core}\ncos {a.cosine:.2f}" for a in layers]
    )
    ax.set_title("spike counts per layer: chip against sinabs")
    ax.set_ylabel("spikes")
    ax.legend(loc="upper right", fontsize="small")


def _power_panel(ax, power: PowerReport) -> None:
    ax.step(power.t_us / 1e6, power.total_w * 1e3, where="post", lw=1)
    ax.set_title(
        f"power (all rails): mean {power.mean_w * 1e3:.3g} mW, peak {power.peak_w * 1e3:.3g} mW, "
        f"energy {power.energy_j * 1e6:.3g} µJ"
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("power (mW)")
