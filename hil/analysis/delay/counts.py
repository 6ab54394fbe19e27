"""Delay by counts (step 1): how much later a core's normalised cumulative output count
reaches the ideal chip's, believed only where pairing confirms it."""

from __future__ import annotations

import numpy as np

from hil.analysis.delay.confirm import bands
from hil.analysis.delay.packing import Packing
from hil.analysis.delay.tuning import MIN_COUNT_SCORE, MIN_COUNT_SUPPORT
from hil.analysis.delay.windows import window_median


def delay_by_counts(device: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per reference spike (in time order): how much later its core's device outputs reached
    the same fraction of their total, i.e. the horizontal distance between the core's
    normalised cumulative output counts. A queue keeps its outputs in order, so this is the
    delay a stall makes, whatever addresses the spikes carry and however many are lost
    uniformly; but it reads a few ms of delay where losses are not uniform."""
    delay = np.zeros(len(reference))
    for layer in np.unique(reference["layer"]):
        mine = reference["layer"] == layer
        device_t = np.sort(device["t"][device["layer"] == layer]).astype(np.float64)
        if len(device_t) == 0:
            continue
        n = int(mine.sum())
        rank = (np.arange(n) + 0.5) * (len(device_t) / n) - 0.5
        delay[mine] = np.interp(rank, np.arange(len(device_t)), device_t) - reference["t"][mine]
    return delay


def counted_curve(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    count_delay: np.ndarray,
    packing: Packing,
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's delay by counts (its anchors' median, at least 0), and whether pairing
    confirms it: more of the window's anchors (pooled with ``COUNT_POOL`` neighbours on each
    side) find a device spike of their neuron within ``COUNT_TOLERANCE_REL`` of that delay
    than chance gives, by ``MIN_COUNT_SCORE`` standard deviations and ``MIN_COUNT_SUPPORT`` of the
    anchors. Chance is what equally wide bands give on either side of the delay, or at no
    delay at all, whichever is more (so a window whose outputs are not delayed is never
    confirmed at the delay its counts read)."""
    n_windows = int(windows[-1]) + 1
    window_delay = np.maximum(window_median(count_delay, windows, n_windows), 0.0)
    delay, half, anchors_with_spike, anchors = bands(
        anchor_codes, device_codes, windows, window_delay, packing
    )
    hits = anchors_with_spike(delay - half, delay + half)
    beside = anchors_with_spike(delay - 3 * half, delay - half - 1)
    beside += anchors_with_spike(delay + half + 1, delay + 3 * half)
    chance = np.maximum(beside / 2, anchors_with_spike(-half, half))
    score = (hits - chance) / np.sqrt(1.5 * chance + 1.0)
    confirmed = (score >= MIN_COUNT_SCORE) & (hits - chance >= MIN_COUNT_SUPPORT * anchors)
    return window_delay, confirmed
