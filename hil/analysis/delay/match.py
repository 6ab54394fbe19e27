"""Matching a run's outputs with the ideal chip's, core by core, into per-window delays and
pairs (the steps of the package's docstring, in order)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from hil.analysis.delay.confirm import beats_zero, in_long_runs
from hil.analysis.delay.counts import counted_curve, delay_by_counts
from hil.analysis.delay.packing import Packing
from hil.analysis.delay.pairing import delay_curve, pair, tolerance
from hil.analysis.delay.tuning import (
    COUNT_BOUND_FACTOR,
    COUNT_BOUND_US,
    MIN_COUNT_GAIN_OVER_ZERO,
    REFINEMENTS,
    SMALL_US,
    TOLERANCE_US,
)
from hil.analysis.delay.windows import window_cores, window_index, window_medians
from hil.backends.base import Run
from hil.chip.profile import ChipProfile, NoiseModel
from hil.emulator.speck import Speck


@dataclass(frozen=True)
class OutputDelays:
    """Per matched output: its chip time ``t_us``, its ``delay_us`` and its ``layer`` (core),
    in time order; per window of ideal spikes: its median cause time and median delay."""

    t_us: np.ndarray
    delay_us: np.ndarray
    layer: np.ndarray
    unmatched_device: int
    unmatched_reference: int
    window_cause_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    window_delay_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    #: the core each window's spikes came from (all windows of one core when matched alone)
    window_core: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: per core: windows of ideal spikes in all, and how many of them showed a delay
    windows_per_core: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return len(self.delay_us)

    def of_core(self, core: int) -> tuple[np.ndarray, np.ndarray]:
        """The cause times and delays of the windows of ``core``'s spikes."""
        mine = self.window_core == core
        return self.window_cause_us[mine], self.window_delay_us[mine]


def zero_latency_outputs(run: Run) -> np.ndarray:
    """What an ideal chip with the run's configuration gives for the run's inputs."""
    deployment = run.deployment
    return ideal_chip(deployment.mapping.config, deployment.device.profile).run(run.inputs)


def ideal_chip(config_or_program: object, profile: ChipProfile) -> Speck:
    """The emulator without time and without noise (a profile a lab believes may carry some):
    every output at the time of the input event that caused it."""
    return Speck(config_or_program, dataclasses.replace(profile, noise=NoiseModel()), timing=False)


def output_delays(run: Run) -> OutputDelays | None:
    """Delays of the run's outputs, core by core; None for a time-stepped run, which has no
    delays."""
    if run.dt_us is not None:
        return None
    return match_per_core(run.outputs, zero_latency_outputs(run))


def match_per_core(device: np.ndarray, reference: np.ndarray) -> OutputDelays:
    """``match_outputs`` on each core's spikes alone, merged (windows keep their core)."""
    cores = np.union1d(np.unique(device["layer"]), np.unique(reference["layer"]))
    parts = {
        int(core): match_outputs(
            device[device["layer"] == core], reference[reference["layer"] == core]
        )
        for core in cores
    }
    if not parts:
        return _unmatched(device, reference)
    merged = {
        name: np.concatenate([getattr(part, name) for part in parts.values()])
        for name in ("t_us", "delay_us", "layer", "window_cause_us", "window_delay_us")
    }
    order = np.argsort(merged["t_us"], kind="stable")
    return OutputDelays(
        t_us=merged["t_us"][order],
        delay_us=merged["delay_us"][order],
        layer=merged["layer"][order],
        unmatched_device=sum(part.unmatched_device for part in parts.values()),
        unmatched_reference=sum(part.unmatched_reference for part in parts.values()),
        window_cause_us=merged["window_cause_us"],
        window_delay_us=merged["window_delay_us"],
        window_core=np.concatenate(
            [np.full(len(part.window_cause_us), core, np.uint8) for core, part in parts.items()]
        ),
        windows_per_core={
            core: part.windows_per_core.get(core, (0, 0)) for core, part in parts.items()
        },
    )


def match_outputs(
    device: np.ndarray, reference: np.ndarray, max_lag_us: int | None = None
) -> OutputDelays:
    """Pair ``device`` spikes with ``reference`` (ideal) spikes of the same neuron, tolerating
    lost, extra and jittered spikes (see the module docstring). ``max_lag_us`` bounds the
    delay that can be found; by default, the span of both runs."""
    if len(reference) == 0 or len(device) == 0:  # a core whose outputs all went missing:
        unresolved = {int(layer): (1, 0) for layer in np.unique(reference["layer"])}
        return dataclasses.replace(_unmatched(device, reference), windows_per_core=unresolved)
    reference = reference[np.argsort(reference["t"], kind="stable")]
    if len(reference) == 0:  # the ideal chip stays silent: no output has a cause to pair with
        return _unmatched(device, reference)
    packing = Packing(device, reference)
    if max_lag_us is None:
        max_lag_us = packing.span_us
    reference_codes = packing.codes(reference)
    device_codes = np.sort(packing.codes(device))
    windows = window_index(len(reference))
    counted = counted_curve(
        reference_codes, device_codes, windows, delay_by_counts(device, reference), packing
    )
    paired = delay_curve(reference_codes, device_codes, windows, max_lag_us, packing)
    window_delay, strong = counted
    large = window_delay > SMALL_US
    strong[large] &= beats_zero(
        reference_codes, device_codes, windows, window_delay, packing, MIN_COUNT_GAIN_OVER_ZERO
    )[large]
    strong &= ~large | in_long_runs(strong)
    if paired is not None:  # pairing's own delay where the counts' was not confirmed,
        paired_delay, paired_shown = paired  # unless the counts rule it out
        paired_shown &= paired_delay <= COUNT_BOUND_FACTOR * window_delay + COUNT_BOUND_US
        small = (paired_delay <= SMALL_US) & (window_delay <= SMALL_US)
        paired_delay = np.where(small, np.minimum(paired_delay, window_delay), paired_delay)
        paired_shown &= (paired_delay <= TOLERANCE_US) | beats_zero(
            reference_codes, device_codes, windows, paired_delay, packing
        )
        window_delay = np.where(strong, window_delay, paired_delay)
        strong |= paired_shown
    resolved = {
        int(layer): (len(strong), int(strong.sum())) for layer in np.unique(reference["layer"])
    }
    if not strong.any():
        return dataclasses.replace(_unmatched(device, reference), windows_per_core=resolved)
    shown = np.flatnonzero(strong)
    curve = np.interp(np.arange(len(strong)), shown, window_delay[shown])[windows]
    cause_t = packing.time(reference_codes)
    ceiling = curve + tolerance(curve)  # refinement follows the evidence, never beyond it
    for _ in range(REFINEMENTS + 1):
        partner, delay, kept = pair(reference_codes, device_codes, curve, packing)
        window_cause, window_delay = window_medians(cause_t, delay, kept & strong[windows], windows)
        if len(window_cause) == 0:
            break
        window_delay = np.minimum(window_delay, np.interp(window_cause, cause_t, ceiling))
        curve = np.interp(cause_t, window_cause, window_delay)
    chosen = device_codes[partner[kept]]
    order = np.argsort(packing.time(chosen), kind="stable")
    matched = int(kept.sum())
    return OutputDelays(
        t_us=packing.time(chosen)[order],
        delay_us=delay[kept][order],
        layer=packing.layer(chosen)[order],
        unmatched_device=len(device) - matched,
        unmatched_reference=len(reference) - matched,
        window_cause_us=window_cause,
        window_delay_us=window_delay,
        window_core=window_cores(reference, cause_t, window_cause),
        windows_per_core=resolved,
    )


def _unmatched(device: np.ndarray, reference: np.ndarray) -> OutputDelays:
    empty = np.zeros(0, np.int64)
    return OutputDelays(
        t_us=empty,
        delay_us=empty,
        layer=np.zeros(0, np.uint8),
        unmatched_device=len(device),
        unmatched_reference=len(reference),
        window_cause_us=empty,
        window_delay_us=np.zeros(0, np.float64),
    )
