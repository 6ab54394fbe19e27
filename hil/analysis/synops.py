"""SynOps/s per core: what each core of a run actually had to compute, against its budget.

A core that exceeds its SynOps/s budget stalls the whole chip, and the seed's estimate
(N_in/s · C_out · kx · ky / (sx · sy)) ignores the edges of the input map, where kernels hang
over the border, and ignores bursts. So the count here is exact and per event: an event at
input row y and column x of a core costs (output rows touching y) × (output columns touching
x) × C_out synaptic operations, one weight added to one neuron each, as the emulator charges
them. The events a core received are the run's inputs for the entry core and, for every other
core, the monitored output spikes of the cores that send to it, routed as the chip routes them
(sum pooling, then feature shift). This is why every sending core must be monitored.

Rates are taken over a sliding window, because a stall follows from a burst a run-wide mean
averages away: events are counted on a fine grid of ``bin_us`` bins and summed over
``window_us``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hil.backends.base import Run
from hil.bounds import check_array_size
from hil.chip.profile import ChipProfile
from hil.emulator.compile import program_from_config
from hil.emulator.program import DVS_LAYER, CoreProgram

if TYPE_CHECKING:
    from hil.backends.deploy import Mapping

DEFAULT_WINDOW_US = 10_000
DEFAULT_BIN_US = 1_000
DEFAULT_DT_US = 1_000
US_PER_S = 1_000_000


@dataclass(frozen=True)
class CoreSynops:
    """One core's SynOps over a run. Rates are SynOps/s; times are chip µs.

    ``synops_per_s[i]`` is the rate over the window starting at ``window_start_us[i]``.
    ``formula_synops_per_s`` is the seed's estimate from the core's mean input rate;
    ``sinabs_synops_per_s`` is sinabs' SNNAnalyzer on the time-stepped reference (None when
    not computed).
    """

    core: int
    layer: int
    input_events: int
    synops: int
    window_start_us: np.ndarray
    synops_per_s: np.ndarray
    peak_synops_per_s: float
    peak_window_us: tuple[int, int]
    mean_synops_per_s: float
    budget_synops_per_s: float
    formula_synops_per_s: float
    sinabs_synops_per_s: float | None = None

    @property
    def load(self) -> float:
        """Peak rate as a fraction of the budget; above 1 the core stalls the chip."""
        return self.peak_synops_per_s / self.budget_synops_per_s

    @property
    def over_budget(self) -> bool:
        return self.load > 1.0


@dataclass(frozen=True)
class SynopsReport:
    """Every used core of a run, by core index."""

    cores: dict[int, CoreSynops]
    t0_us: int
    duration_us: int
    window_us: int
    bin_us: int

    def over_budget(self) -> list[CoreSynops]:
        return [core for core in self.cores.values() if core.over_budget]


def synops_report(
    run: Run,
    profile: ChipProfile | None = None,
    window_us: int = DEFAULT_WINDOW_US,
    bin_us: int = DEFAULT_BIN_US,
    sinabs_dt_us: int | None = DEFAULT_DT_US,
    compute_sinabs: bool = False,
) -> SynopsReport:
    """SynOps/s per core of ``run``, which must monitor every core that sends to another.

    ``profile`` gives the budgets (default: the run's device profile). ``sinabs_dt_us`` is the
    time step of sinabs' SNNAnalyzer estimate on the reference (None skips it). That figure
    comes from the reference's own forward when ``Deployment.reference`` already ran on the
    run's inputs; otherwise it is computed (one more sinabs forward) only when
    ``compute_sinabs`` is True, and left out (None) when it is False.
    """
    if window_us % bin_us:
        raise ValueError(f"window_us ({window_us}) must be a multiple of bin_us ({bin_us})")
    mapping = run.deployment.mapping
    profile = profile or run.deployment.device.profile
    cores = used_cores(mapping, profile)
    arrivals = core_arrivals(run, cores)
    t0 = int(run.inputs["t"][0]) if len(run.inputs) else 0
    t_last = max([t0, *(int(t.max()) for t, _ in arrivals.values() if len(t))])
    n_bins = (t_last - t0) // bin_us + 1
    check_array_size(
        "the SynOps/s series",
        n_bins * len(cores),
        4 * 8,  # per bin: counts, running sums, window sums, starts
        f"{n_bins:,} bins of {bin_us} µs: the run spans {(t_last - t0) / 1e6:.3g} s from its "
        "first input to its last output; outputs delayed that long mean a SynOps budget far "
        "below the load",
    )
    duration_us = n_bins * bin_us
    duration_s = duration_us / US_PER_S
    sinabs_synops = (
        run.deployment.sinabs_synops(
            run.inputs, sinabs_dt_us, run.reset_mode or "subtract", compute=compute_sinabs
        )
        if sinabs_dt_us is not None
        else None
    )
    sinabs_rates = {core: n / duration_s for core, n in (sinabs_synops or {}).items()}
    report = {}
    for index, core in cores.items():
        t, synops = arrivals[index]
        per_bin = np.bincount((t - t0) // bin_us, weights=synops, minlength=n_bins)
        starts, rates = sliding_rate(per_bin, window_us // bin_us, bin_us)
        peak = int(np.argmax(rates))
        peak_start = t0 + int(starts[peak])
        report[index] = CoreSynops(
            core=index,
            layer=mapping.layer_of(index),
            input_events=len(t),
            synops=int(synops.sum()),
            window_start_us=t0 + starts,
            synops_per_s=rates,
            peak_synops_per_s=float(rates[peak]),
            peak_window_us=(peak_start, peak_start + window_us),
            mean_synops_per_s=float(synops.sum()) / duration_s,
            budget_synops_per_s=profile.synops_per_s[index],
            formula_synops_per_s=formula_synops_per_s(len(t) / duration_s, core),
            sinabs_synops_per_s=sinabs_rates.get(index),
        )
    return SynopsReport(
        cores=report, t0_us=t0, duration_us=duration_us, window_us=window_us, bin_us=bin_us
    )


def used_cores(mapping: Mapping, profile: ChipProfile) -> dict[int, CoreProgram]:
    """The cores the mapping placed a layer on, as the configuration describes them."""
    program = program_from_config(mapping.config, profile)
    return {core: program.cores[core] for core in sorted(mapping.layer2core.values())}


def core_arrivals(
    run: Run, cores: dict[int, CoreProgram]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per core, the time (µs) and exact SynOps of every event it received."""
    mapping = run.deployment.mapping
    if mapping.entry_core == DVS_LAYER:
        raise ValueError(
            "SynOps analysis of networks entered through the DVS layer is not supported"
        )
    _check_senders_monitored(cores, set(mapping.monitored_cores))
    parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {core: [] for core in cores}
    parts[mapping.entry_core].append(
        _costed(
            cores[mapping.entry_core],
            run.inputs["t"],
            run.inputs["y"],
            run.inputs["x"],
            run.inputs["feature"],
        )
    )
    outputs = run.outputs
    for index, sender in cores.items():
        routes = [d for d in sender.destinations if d.enable and d.layer in cores]
        if not routes:
            continue
        sent = np.flatnonzero(outputs["layer"] == index)  # integer indices gather faster
        t, y, x = outputs["t"][sent], outputs["y"][sent], outputs["x"][sent]
        feature = outputs["feature"][sent]
        for route in routes:
            parts[route.layer].append(
                _costed(
                    cores[route.layer],
                    t,
                    y // route.pooling,
                    x // route.pooling,
                    feature + route.feature_shift,
                )
            )
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return {
        core: tuple(np.concatenate(columns) for columns in zip(*pieces, strict=True))
        if pieces
        else empty
        for core, pieces in parts.items()
    }


def projective_field_sizes(core: CoreProgram, axis: int) -> np.ndarray:
    """Per input index along ``axis`` (0 = y, 1 = x): how many output indices have it inside
    their kernel window, given the core's kernel, stride, padding and output size."""
    stride, padding = core.stride[axis], core.padding[axis]
    n_in, n_out = core.input_shape[1 + axis], core.output_shape[1 + axis]
    position = np.arange(n_in) + padding
    first = np.maximum(0, -(-(position - core.kernel_size + 1) // stride))
    last = np.minimum(n_out - 1, position // stride)
    return np.maximum(0, last - first + 1)


def formula_synops_per_s(input_rate: float, core: CoreProgram) -> float:
    """The seed's estimate: N_in/s · C_out · kx · ky / (sx · sy)."""
    c_out = core.output_shape[0]
    return input_rate * c_out * core.kernel_size**2 / (core.stride[0] * core.stride[1])


def sliding_rate(
    per_bin: np.ndarray, bins_per_window: int, bin_us: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets (µs) and rates (per s) of every window of ``bins_per_window`` bins; a
    run shorter than one window gives one window, padded with silence."""
    padded = np.concatenate([per_bin, np.zeros(max(0, bins_per_window - len(per_bin)))])
    totals = np.concatenate([[0.0], np.cumsum(padded)])
    sums = totals[bins_per_window:] - totals[:-bins_per_window]
    starts = np.arange(len(sums), dtype=np.int64) * bin_us
    return starts, sums * US_PER_S / (bins_per_window * bin_us)


def _check_senders_monitored(cores: dict[int, CoreProgram], monitored: set[int]) -> None:
    for index, core in cores.items():
        targets = [d.layer for d in core.destinations if d.enable and d.layer in cores]
        if targets and index not in monitored:
            raise ValueError(
                f"core {index} sends to core {targets[0]} but is not monitored, so the "
                "events that core received are unknown; deploy with monitor='all'"
            )


def _costed(
    core: CoreProgram,
    t: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    feature: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Times and SynOps of the events that land inside ``core``'s input map (the chip drops
    the rest)."""
    c_in, height, width = core.input_shape
    inside = (y < height) & (x < width) & (feature < c_in)
    if not inside.all():
        t, y, x = t[inside], y[inside], x[inside]
    per_position = np.outer(projective_field_sizes(core, 0), projective_field_sizes(core, 1))
    synops = (per_position * core.output_shape[0])[y, x]
    return t.astype(np.int64, copy=False), synops
