"""Output delay: how long after its cause each output left the chip.

A chip does not say which input caused an output. The estimate that works on a real chip as
well as on the emulator: replay the same inputs through an ideal, zero-latency chip (the
emulator with ``timing=False``), then match each neuron's k-th spike on the device with its
k-th spike in the ideal run; the difference of their times is that output's delay. Spikes
with no partner (a chip's stochastic extra or missing spike, a dropped event) are counted,
not matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hil.analysis.spikes import neuron_keys
from hil.backends.base import Run
from hil.emulator.speck import Speck


@dataclass(frozen=True)
class OutputDelays:
    """Per matched output: its chip time ``t_us``, its ``delay_us`` and its ``layer`` (core)."""

    t_us: np.ndarray
    delay_us: np.ndarray
    layer: np.ndarray
    unmatched_device: int
    unmatched_reference: int


def zero_latency_outputs(run: Run) -> np.ndarray:
    """What an ideal chip with the run's configuration gives for the run's inputs."""
    deployment = run.deployment
    chip = Speck(deployment.mapping.config, deployment.device.profile, timing=False)
    return chip.run(run.inputs)


def output_delays(run: Run) -> OutputDelays | None:
    """Delays of the run's outputs; None for a time-stepped run, which has no delays."""
    if run.dt_us is not None:
        return None
    return match_outputs(run.outputs, zero_latency_outputs(run))


def match_outputs(device: np.ndarray, reference: np.ndarray) -> OutputDelays:
    """Pair each neuron's k-th spike in ``device`` with its k-th spike in ``reference``."""
    device_keys = neuron_keys(device)
    reference_keys = neuron_keys(reference)
    _, ids = np.unique(np.concatenate([device_keys, reference_keys]), return_inverse=True)
    device_ids, reference_ids = ids[: len(device)], ids[len(device) :]
    span = max(len(device), len(reference)) + 1
    device_order, device_tags = _ranked(device_ids, device["t"], span)
    reference_order, reference_tags = _ranked(reference_ids, reference["t"], span)
    _, in_device, in_reference = np.intersect1d(
        device_tags, reference_tags, assume_unique=True, return_indices=True
    )
    matched_device = device[device_order[in_device]]
    matched_reference = reference[reference_order[in_reference]]
    order = np.argsort(matched_device["t"], kind="stable")
    matched_device, matched_reference = matched_device[order], matched_reference[order]
    return OutputDelays(
        t_us=matched_device["t"],
        delay_us=matched_device["t"] - matched_reference["t"],
        layer=matched_device["layer"],
        unmatched_device=len(device) - len(matched_device),
        unmatched_reference=len(reference) - len(matched_reference),
    )


def _ranked(ids: np.ndarray, t: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Order of spikes by (neuron, time), and per spike a tag neuron·span + k (k-th spike)."""
    order = np.lexsort((t, ids))
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(sorted_ids)]))
    rank = np.arange(len(sorted_ids)) - first
    return order, sorted_ids.astype(np.int64) * span + rank
