"""Better than no delay (step 3): a window's delay is believed only where more of its ideal
spikes find a partner near it than at no delay, in runs of windows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hil.analysis.delay.packing import Packing
from hil.analysis.delay.tuning import (
    COUNT_POOL,
    COUNT_TOLERANCE_REL,
    MIN_CONFIRMED_RUN,
    MIN_GAIN_OVER_ZERO,
    TOLERANCE_US,
)
from hil.analysis.delay.windows import pooled


def beats_zero(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    window_delay: np.ndarray,
    packing: Packing,
    min_gain: float = MIN_GAIN_OVER_ZERO,
) -> np.ndarray:
    """Per window: whether its delay finds partners for more of its anchors (pooled with
    ``COUNT_POOL`` neighbours on each side) than no delay does, by ``min_gain`` of them."""
    delay, half, anchors_with_spike, anchors = bands(
        anchor_codes, device_codes, windows, window_delay, packing
    )
    gain = anchors_with_spike(delay - half, delay + half) - anchors_with_spike(-half, half)
    return gain >= min_gain * anchors


def bands(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    window_delay: np.ndarray,
    packing: Packing,
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray]:
    """Per anchor (sorted by code: nearly sorted keys search fast) its window's delay and the
    band's half width around it; a count, per window pooled with ``COUNT_POOL`` neighbours on
    each side, of the anchors that find a device spike of their neuron between two delays;
    and the anchors per pooled window."""
    n_windows = int(windows[-1]) + 1
    by_code = np.argsort(anchor_codes, kind="stable")
    anchor_codes, windows = anchor_codes[by_code], windows[by_code]
    delay = window_delay[windows]
    half = np.maximum(TOLERANCE_US, COUNT_TOLERANCE_REL * delay)

    def anchors_with_spike(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        found = _has_spike(anchor_codes, device_codes, low, high, packing)
        return pooled(np.bincount(windows, found, minlength=n_windows), COUNT_POOL)

    anchors = pooled(np.bincount(windows, minlength=n_windows), COUNT_POOL)
    return delay, half, anchors_with_spike, anchors


def _has_spike(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    low_us: np.ndarray,
    high_us: np.ndarray,
    packing: Packing,
) -> np.ndarray:
    """1.0 where the anchor's neuron has a device spike from ``low_us`` to ``high_us``
    (inclusive) after the anchor, else 0.0; fastest with anchors in code order."""
    low = np.searchsorted(device_codes, packing.shifted(anchor_codes, low_us), side="left")
    high = np.searchsorted(device_codes, packing.shifted(anchor_codes, high_us), side="right")
    return (high > low).astype(np.float64)


def in_long_runs(flags: np.ndarray) -> np.ndarray:
    """Where ``flags`` is True in a run of at least ``MIN_CONFIRMED_RUN`` windows (or half of
    them all, for a core with few): a delay one window shows alone is chance."""
    edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    needed = min(MIN_CONFIRMED_RUN, -(-len(flags) // 2))
    kept = np.zeros(len(flags), bool)
    for start, stop in zip(starts, stops, strict=True):
        kept[start:stop] = stop - start >= needed
    return kept
