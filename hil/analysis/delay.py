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
    """Pair each neuron's k-th spike in ``device`` with its k-th spike in ``reference``.

    Each spike becomes one int64, neuron bits above time bits, so one sort per side orders
    spikes by (neuron, time); the k-th spike of a neuron gets the tag neuron·span + k, and tags
    are matched by binary search. Results are in (neuron, time) order, not time order.
    """
    both = np.concatenate([device, reference])
    widths = [_bits(int(both[name].max(initial=0))) for name in ("layer", "feature", "y", "x")]
    t0 = int(both["t"].min(initial=0))
    t_bits = _bits(int(both["t"].max(initial=0)) - t0)
    span_bits = _bits(max(len(device), len(reference)) + 1)
    if sum(widths) + max(t_bits, span_bits) > 62:
        raise ValueError("coordinates and times too wide to match in 63 bits")
    device_codes = np.sort(_codes(device, widths, t_bits, t0))
    reference_codes = np.sort(_codes(reference, widths, t_bits, t0))
    device_tags = _tags(device_codes, t_bits, span_bits)
    reference_tags = _tags(reference_codes, t_bits, span_bits)
    position = np.searchsorted(reference_tags, device_tags)
    position[position == len(reference_tags)] = 0
    found = reference_tags[position] == device_tags if len(reference_tags) else device_tags < 0
    time_mask = (1 << t_bits) - 1
    device_t = (device_codes[found] & time_mask) + t0
    reference_t = (reference_codes[position[found]] & time_mask) + t0
    matched = int(found.sum())
    return OutputDelays(
        t_us=device_t,
        delay_us=device_t - reference_t,
        layer=(device_codes[found] >> (t_bits + sum(widths[1:]))).astype(np.uint8),
        unmatched_device=len(device) - matched,
        unmatched_reference=len(reference) - matched,
    )


def _bits(value: int) -> int:
    return max(int(value).bit_length(), 1)


def _codes(spikes: np.ndarray, widths: list[int], t_bits: int, t0: int) -> np.ndarray:
    """(layer, feature, y, x, t - t0) packed into one int64 per spike, in that order."""
    code = np.zeros(len(spikes), np.int64)
    for name, width in zip(("layer", "feature", "y", "x"), widths, strict=True):
        code = (code << width) | spikes[name].astype(np.int64)
    return (code << t_bits) | (spikes["t"].astype(np.int64) - t0)


def _tags(codes: np.ndarray, t_bits: int, span_bits: int) -> np.ndarray:
    """neuron·2^span_bits + k for the k-th spike of its neuron; ``codes`` sorted."""
    neuron = codes >> t_bits
    starts = np.flatnonzero(np.r_[True, neuron[1:] != neuron[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(neuron)]))
    return (neuron << span_bits) | (np.arange(len(neuron)) - first)
