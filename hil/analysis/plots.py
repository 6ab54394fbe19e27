"""One picture per replay: delay over time, SynOps/s per core, chip against reference, power.

A failing stall or budget check is easier to read as a curve crossing a line than as a
number; the picture is written to the test's artifacts on request or on failure, for a lab to
read without the code:

- each core keeps one colour in every panel, and each core's budget is its own dashed line
  in that colour, named in the legend (equal budgets are drawn interleaved, not hidden);
- cores over their budget come first in the legends and are drawn on top, so the core that
  stalls the chip is the one the eye lands on;
- scales are linear from zero, so a 15 % overrun of a limit shows as 15 %;
- the reset-mode picture shows the chip against both references, and says which it resembles.

Only matplotlib's object API is used (no pyplot), so nothing depends on a display.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from hil.analysis.agreement import EVIDENCE, LayerAgreement, ResetModeVerdict
from hil.analysis.power import PowerReport
from hil.analysis.stall import StallReport
from hil.analysis.synops import SynopsReport

HEADROOM = 1.12  # the top of a linear axis, as a multiple of the largest value or limit
_DASH = 5.0
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}  # legends never hide data


def core_colour(core: int) -> str:
    """The colour of ``core`` in every panel."""
    return f"C{core % 10}"


def plot_run(
    path: str | os.PathLike,
    title: str,
    stall: StallReport | None = None,
    synops: SynopsReport | None = None,
    agreement: list[LayerAgreement] | None = None,
    reset_modes: tuple[ResetModeVerdict, dict[str, list[LayerAgreement]]] | None = None,
    power: PowerReport | None = None,
) -> Path:
    """Write a PNG with one panel per report given (see ``run_figure``); returns its path."""
    figure = run_figure(title, stall, synops, agreement, reset_modes, power)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def run_figure(
    title: str,
    stall: StallReport | None = None,
    synops: SynopsReport | None = None,
    agreement: list[LayerAgreement] | None = None,
    reset_modes: tuple[ResetModeVerdict, dict[str, list[LayerAgreement]]] | None = None,
    power: PowerReport | None = None,
) -> Figure:
    """One panel per report given, top to bottom: delay, SynOps/s, agreement, reset mode,
    power.

    ``reset_modes`` is a reset-mode verdict with the chip's agreement against the reference
    under each reset mode.
    """
    panels = [p for p in (stall, synops, agreement, reset_modes, power) if p is not None]
    if not panels:
        raise ValueError("nothing to plot: give a stall report, a SynOps report or agreement")
    figure = Figure(figsize=(12, 3.4 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    figure.suptitle(title)
    ax = iter(axes)
    over = _over_budget(synops)
    if stall is not None:
        _delay_panel(next(ax), stall, over)
    if synops is not None:
        _synops_panel(next(ax), synops)
    if agreement is not None:
        _agreement_panel(next(ax), agreement)
    if reset_modes is not None:
        _reset_mode_panel(next(ax), *reset_modes)
    if power is not None:
        _power_panel(next(ax), power)
    return figure


def _over_budget(synops: SynopsReport | None) -> list[int]:
    """Cores over their budget, the most loaded first."""
    if synops is None:
        return []
    loaded = sorted(synops.cores.values(), key=lambda c: c.load, reverse=True)
    return [c.core for c in loaded if c.over_budget]


def _first(cores: list[int], over: list[int], worst: dict[int, float]) -> list[int]:
    """Overloaded cores first (most loaded first), then the rest by ``worst`` value."""
    rest = sorted((c for c in cores if c not in over), key=lambda c: -worst.get(c, 0.0))
    return [c for c in over if c in cores] + rest


def _delay_panel(ax, stall: StallReport, over: list[int]) -> None:
    delays = stall.delays
    caused_at = (delays.t_us - delays.delay_us) / 1e6
    cores = [int(c) for c in np.unique(delays.layer)]
    worst = {c: float(delays.delay_us[delays.layer == c].max()) for c in cores}
    order = _first(cores, over, worst)
    for rank, core in enumerate(order):
        chosen = delays.layer == core
        label = f"core {core}" + (" (over its SynOps budget)" if core in over else "")
        ax.plot(
            caused_at[chosen],
            delays.delay_us[chosen] / 1e3,
            ".",
            ms=2,
            color=core_colour(core),
            label=label,
            zorder=3 + len(order) - rank,
        )
    limit_ms = stall.max_delay_us / 1e3
    ax.axhline(limit_ms, color="red", lw=1.2, ls="--", label=f"limit {limit_ms:g} ms", zorder=20)
    ax.set_ylim(0, HEADROOM * max(stall.max_us / 1e3, limit_ms))
    verdict = "STALLED" if stall.stalled else "no stall"
    ax.set_title(
        f"output delay: {verdict}, max {stall.max_us / 1e3:.3g} ms "
        f"(limit {limit_ms:g} ms), p99 {stall.p99_us / 1e3:.3g} ms"
    )
    ax.set_xlabel("time of the causing input (s)")
    ax.set_ylabel("delay (ms)")
    ax.legend(**_OUTSIDE, fontsize="small", markerscale=4)


def _synops_panel(ax, synops: SynopsReport) -> None:
    cores = synops.cores
    over = _over_budget(synops)
    order = _first(list(cores), over, {c: cores[c].load for c in cores})
    sharing = defaultdict(list)  # cores with the same budget draw interleaved dashes
    for core in order:
        sharing[cores[core].budget_synops_per_s].append(core)
    handles = []
    for rank, number in enumerate(order):
        core = cores[number]
        colour, z = core_colour(number), 3 + len(order) - rank
        (line,) = ax.plot(
            core.window_start_us / 1e6,
            core.synops_per_s,
            lw=1.2,
            color=colour,
            zorder=z,
            label=f"core {number}: peak {core.peak_synops_per_s:.3g} "
            f"({100 * core.load:.0f} % of budget)" + (" OVER" if core.over_budget else ""),
        )
        group = sharing[core.budget_synops_per_s]
        gap = _DASH * (len(group) - 1) or _DASH
        budget = ax.axhline(
            core.budget_synops_per_s,
            color=colour,
            lw=1.5,
            zorder=z,
            ls=(_DASH * group.index(number), (_DASH, gap)),
            label=f"core {number} budget {core.budget_synops_per_s:.3g}",
        )
        handles += [line, budget]
    ax.set_title(f"SynOps/s per core over {synops.window_us / 1e3:g} ms windows (dashed: budget)")
    ax.set_xlabel("window start (s)")
    ax.set_ylabel("SynOps/s")
    top = max(max(c.peak_synops_per_s, c.budget_synops_per_s) for c in cores.values())
    ax.set_ylim(0, HEADROOM * top)
    ax.legend(handles=handles, **_OUTSIDE, fontsize="small")


def _agreement_panel(ax, layers: list[LayerAgreement]) -> None:
    positions = np.arange(len(layers))
    ax.bar(positions - 0.2, [a.device_spikes for a in layers], 0.4, label="chip")
    ax.bar(positions + 0.2, [a.reference_spikes for a in layers], 0.4, label="sinabs reference")
    ax.set_xticks(
        positions, [f"layer {a.layer}\ncore {a.core}\ncos {a.cosine:.2f}" for a in layers]
    )
    ax.set_title("spike counts per layer: chip against sinabs")
    ax.set_ylabel("spikes")
    ax.legend(**_OUTSIDE, fontsize="small")


def _reset_mode_panel(
    ax, verdict: ResetModeVerdict, by_mode: dict[str, list[LayerAgreement]]
) -> None:
    modes = sorted(by_mode)
    layers = by_mode[modes[0]]
    positions = np.arange(len(layers))
    width = 0.8 / (len(modes) + 1)
    ax.bar(
        positions - 0.4 + width / 2,
        [a.device_spikes for a in layers],
        width,
        color="black",
        label="chip",
    )
    for i, mode in enumerate(modes):
        made_for = " (made for)" if mode == verdict.expected else ""
        ax.bar(
            positions - 0.4 + width * (i + 1.5),
            [a.reference_spikes for a in by_mode[mode]],
            width,
            color="tab:green" if mode == verdict.expected else "tab:red",
            alpha=0.8,
            label=f"{verdict.reference or 'reference'}: reset {mode}{made_for}\n"
            f"{EVIDENCE[verdict.evidence]} {verdict.distance[mode]:.3f}",
        )
    ax.set_xticks(positions, [f"layer {a.layer}\ncore {a.core}" for a in layers])
    wrong = verdict.behaves_like != verdict.expected and not verdict.cannot_tell
    outcome = "cannot tell" if verdict.cannot_tell else "WRONG" if wrong else "as made"
    ax.set_title(
        f"reset mode: {outcome}: deployed {verdict.deployed!r}, "
        f"made for {verdict.expected!r}, the chip behaves like {verdict.behaves_like!r}",
        color="red" if wrong else "black",
    )
    ax.set_ylabel("spikes")
    ax.legend(**_OUTSIDE, fontsize="small")


def _power_panel(ax, power: PowerReport) -> None:
    ax.step(power.t_us / 1e6, power.total_w * 1e3, where="post", lw=1)
    ax.set_title(
        f"power (all rails): mean {power.mean_w * 1e3:.3g} mW, peak {power.peak_w * 1e3:.3g} mW, "
        f"energy {power.energy_j * 1e6:.3g} µJ"
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("power (mW)")
