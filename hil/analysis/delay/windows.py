"""The ideal spikes cut into windows of ``WINDOW_SPIKES`` in cause-time order, and what is
sampled, pooled and smoothed per window."""

from __future__ import annotations

import numpy as np

from hil.analysis.delay.tuning import (
    MAX_WINDOWS,
    MIN_MATCHED_PER_WINDOW,
    SAMPLE_PER_WINDOW,
    WINDOW_SPIKES,
)


def window_index(n: int) -> np.ndarray:
    """Window index of each of ``n`` time-ordered spikes: runs of at least WINDOW_SPIKES."""
    size = max(WINDOW_SPIKES, -(-n // MAX_WINDOWS))
    return np.arange(n) // size


def window_cores(reference: np.ndarray, cause_t: np.ndarray, window_cause: np.ndarray):
    """The core of each reported window: the core of the ideal spike at its median cause."""
    if len(reference) == 0 or len(window_cause) == 0:
        return np.zeros(len(window_cause), np.uint8)
    index = np.minimum(np.searchsorted(cause_t, window_cause), len(reference) - 1)
    return reference["layer"][index].astype(np.uint8)


def window_median(values: np.ndarray, windows: np.ndarray, n_windows: int) -> np.ndarray:
    """Median of ``values`` over each window (windows are runs of the same index)."""
    order = np.lexsort((values, windows))
    starts = np.searchsorted(windows, np.arange(n_windows))
    sizes = np.diff(np.r_[starts, len(windows)])
    return values[order][starts + sizes // 2]


def window_medians(
    cause_us: np.ndarray, delay: np.ndarray, kept: np.ndarray, windows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Median cause time and median kept delay of each window with enough kept outputs."""
    window = windows[kept]
    if len(window) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    times = cause_us[kept]  # in time order, so windows are runs
    kept_delay = delay[kept]
    by_delay = np.argsort(kept_delay, kind="stable")
    sorted_delay = kept_delay[by_delay][np.argsort(window[by_delay], kind="stable")]
    starts = np.flatnonzero(np.r_[True, window[1:] != window[:-1]])
    sizes = np.diff(np.r_[starts, len(window)])
    middle = (starts + sizes // 2)[sizes >= MIN_MATCHED_PER_WINDOW]
    return times[middle].astype(np.int64), sorted_delay[middle].astype(np.float64)


def per_window_bins(
    window: np.ndarray, bins: np.ndarray, weights, n_windows: int, n_bins: int
) -> np.ndarray:
    """Sum of ``weights`` per (window, bin), as an (n_windows, n_bins) array."""
    weights = np.broadcast_to(np.asarray(weights, np.float64), window.shape)
    flat = np.bincount(window * n_bins + bins, weights, minlength=n_windows * n_bins)
    return flat.reshape(n_windows, n_bins)


def window_sample(windows: np.ndarray, n_windows: int) -> np.ndarray:
    """Up to SAMPLE_PER_WINDOW spikes of each window, spread evenly over it."""
    starts = np.searchsorted(windows, np.arange(n_windows))
    sizes = np.diff(np.r_[starts, len(windows)])
    step = np.maximum(sizes // SAMPLE_PER_WINDOW, 1)
    picks = np.minimum(sizes, SAMPLE_PER_WINDOW)
    owner = np.repeat(np.arange(n_windows), picks)
    position = np.arange(picks.sum()) - np.repeat(np.cumsum(picks) - picks, picks)
    return starts[owner] + position * step[owner]


def pooled(values: np.ndarray, half: int = 1) -> np.ndarray:
    """Each window's row (or value) summed with its ``half`` neighbours on either side."""
    total = np.cumsum(np.r_[np.zeros((1, *values.shape[1:])), values], axis=0)
    rows = np.arange(len(values))
    return total[np.minimum(rows + half + 1, len(values))] - total[np.maximum(rows - half, 0)]


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    if len(values) < width:
        return np.full_like(values, np.median(values))
    half = width // 2
    padded = np.r_[np.full(half, values[0]), values, np.full(half, values[-1])]
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)
