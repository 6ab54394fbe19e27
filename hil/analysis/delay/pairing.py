"""Delay by pairing (step 2) and the pairs themselves (step 4): candidate partners per window,
the chance level they would pile up to, the bin that stands out, and each ideal spike's
device partner nearest the curve."""

from __future__ import annotations

import numpy as np

from hil.analysis.delay.packing import Packing, searchsorted
from hil.analysis.delay.tuning import (
    BIN_FLOOR_US,
    BIN_REL,
    EARLY_US,
    MAX_CANDIDATES,
    MIN_SCORE,
    MIN_SUPPORT,
    SMOOTH_WINDOWS,
    TOLERANCE_REL,
    TOLERANCE_US,
)
from hil.analysis.delay.windows import per_window_bins, pooled, running_median, window_sample


def delay_curve(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    max_lag_us: int,
    packing: Packing,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The shared delay (µs) of each window of anchors (ideal spikes, in time order), and
    which windows showed one (the others interpolate between them); None when none did.

    A window's delay is the bin whose count stands out most from what chance gives: each
    sampled anchor's candidates, spread over the delays it could reach as the device's
    outputs are spread over that time.
    """
    if len(anchor_codes) == 0 or len(device_codes) == 0:
        return None
    n_windows = int(windows[-1]) + 1
    sample = window_sample(windows, n_windows)
    codes = anchor_codes[sample]
    window = windows[sample]
    n_bins = int(_bin_of(np.array([max_lag_us]))[0]) + 1
    low, high, owner, delay = _candidates(codes, device_codes, max_lag_us)
    histogram = per_window_bins(window[owner], _bin_of(delay), 1.0, n_windows, n_bins)
    expected = _chance(codes, device_codes, window, low, high, max_lag_us, packing, n_windows)
    mode, strong = _standing_out(pooled(histogram), pooled(expected), window, n_windows)
    if not strong.any():
        return None
    edges = _bin_edges(n_bins)
    return _consistent_curve((edges[:-1] + edges[1:]) / 2, mode, strong, n_windows)


def _candidates(
    codes: np.ndarray, device_codes: np.ndarray, max_lag_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each anchor's candidate partners: the range ``low:high`` of same-neuron device spikes
    it could have caused (at most ``MAX_CANDIDATES``), and per candidate its anchor and delay."""
    low = searchsorted(device_codes, codes - EARLY_US, side="left")
    high = np.minimum(
        searchsorted(device_codes, codes + max_lag_us, side="right"), low + MAX_CANDIDATES
    )
    counts = high - low
    owner = np.repeat(np.arange(len(codes)), counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    delay = device_codes[low[owner] + position] - codes[owner]  # same neuron: times differ
    return low, high, owner, delay


def _chance(
    codes: np.ndarray,
    device_codes: np.ndarray,
    window: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    max_lag_us: int,
    packing: Packing,
    n_windows: int,
) -> np.ndarray:
    """Candidates per window and delay bin that chance gives: an anchor's candidates spread
    over the delays it reaches as the device's output rate is spread over that time (a chip
    working off a backlog emits densely, and so do its spurious and misaddressed spikes)."""
    counts = high - low
    n_bins = int(_bin_of(np.array([max_lag_us]))[0]) + 1
    anchor_t = packing.time(codes)
    device_t = np.sort(packing.time(device_codes))
    reach = np.minimum(max_lag_us, device_t[-1] - anchor_t).astype(np.float64)
    full = counts == MAX_CANDIDATES
    reach[full] = (device_codes[high[full] - 1] - codes[full]).astype(np.float64)
    reach = np.maximum(reach, 0.0)
    outputs_reached = np.searchsorted(device_t, anchor_t + reach, side="right") - np.searchsorted(
        device_t, anchor_t - EARLY_US
    )
    share = counts / np.maximum(outputs_reached, 1)  # candidates per device output reached
    steps = per_window_bins(window, np.zeros(len(codes), np.int64), share, n_windows, n_bins)
    steps -= per_window_bins(
        window, np.minimum(_bin_of(reach) + 1, n_bins - 1), share, n_windows, n_bins
    )
    window_t = anchor_t[np.searchsorted(window, np.arange(n_windows))]
    outputs_in_bin = np.diff(
        np.searchsorted(device_t, window_t[:, None] + _bin_edges(n_bins)[None, :]), axis=1
    ).astype(np.float64)
    return np.cumsum(steps, axis=1) * outputs_in_bin


def _standing_out(
    histogram: np.ndarray, expected: np.ndarray, window: np.ndarray, n_windows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per window, the delay bin that stands out most from chance, and whether it stands out
    enough (``MIN_SCORE`` and ``MIN_SUPPORT`` of the window's sampled anchors)."""
    count3, expected3 = _three_bins(histogram), _three_bins(expected)
    score = (count3 - expected3) / np.sqrt(expected3 + 1.0)
    mode = np.argmax(score, axis=1)
    rows = np.arange(n_windows)
    excess = count3[rows, mode] - expected3[rows, mode]
    sampled = pooled(np.bincount(window, minlength=n_windows).astype(np.float64))
    strong = (score[rows, mode] >= MIN_SCORE) & (excess >= MIN_SUPPORT * np.maximum(sampled, 1))
    return mode, strong


def _consistent_curve(
    centres: np.ndarray, mode: np.ndarray, strong: np.ndarray, n_windows: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """A delay no neighbour shares is chance: smooth over the windows that showed one, keep
    those near the smoothed delay, and draw the curve through them."""
    shown = np.flatnonzero(strong)
    smoothed = running_median(centres[mode][shown], SMOOTH_WINDOWS)
    consistent = np.abs(centres[mode][shown] - smoothed) <= tolerance(smoothed)
    strong[shown[~consistent]] = False
    shown, smoothed = shown[consistent], smoothed[consistent]
    if len(shown) == 0:
        return None
    return np.interp(np.arange(n_windows), shown, smoothed), strong


def _bin_edges(n_bins: int) -> np.ndarray:
    """Bin 0 holds early outputs (delay < 0); bin k ≥ 1 starts at BIN_FLOOR·((1+REL)^(k-1) − 1),
    so bins are BIN_REL·BIN_FLOOR wide at zero delay and BIN_REL of the delay far from it."""
    k = np.arange(n_bins)
    return np.r_[-EARLY_US - 1.0, BIN_FLOOR_US * ((1 + BIN_REL) ** k - 1)]


def _bin_of(delay: np.ndarray) -> np.ndarray:
    positive = np.maximum(delay, 0).astype(np.float64)
    index = 1 + np.floor(np.log1p(positive / BIN_FLOOR_US) / np.log1p(BIN_REL)).astype(np.int64)
    return np.where(delay < 0, 0, index)


def _three_bins(histogram: np.ndarray) -> np.ndarray:
    """Each bin summed with its two neighbours."""
    summed = histogram.copy()
    summed[:, 1:] += histogram[:, :-1]
    summed[:, :-1] += histogram[:, 1:]
    return summed


def pair(
    anchor_codes: np.ndarray, device_codes: np.ndarray, curve: np.ndarray, packing: Packing
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each anchor's partner (the device spike of its neuron nearest the curve), the delay to
    it, and whether the pair is kept (near enough the curve, and the partner's closest)."""
    partner, found = _nearest_partner(
        anchor_codes + np.rint(curve).astype(np.int64), device_codes, packing
    )
    delay = device_codes[partner] - anchor_codes
    error = np.abs(delay - curve)
    kept = found & (error <= tolerance(curve))
    kept &= _first_claim(partner, error, kept)
    return partner, delay, kept


def tolerance(curve: np.ndarray) -> np.ndarray:
    return np.maximum(TOLERANCE_US, TOLERANCE_REL * np.abs(curve))


def _first_claim(partner: np.ndarray, error: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Each device spike pairs with one reference spike at most: the closest to the curve."""
    candidates = np.flatnonzero(kept)
    rank = np.argsort(error[candidates], kind="stable")  # closest first, then by partner
    order = candidates[rank][np.argsort(partner[candidates][rank], kind="stable")]
    first = np.r_[True, partner[order][1:] != partner[order][:-1]]
    claimed = np.zeros(len(partner), bool)
    claimed[order[first]] = True
    return claimed


def _nearest_partner(
    target_codes: np.ndarray, device_codes: np.ndarray, packing: Packing
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the device spike of the same neuron nearest each target; whether there is one."""
    after = searchsorted(device_codes, target_codes)
    before = np.maximum(after - 1, 0)
    after = np.minimum(after, len(device_codes) - 1)
    neuron = packing.neuron(target_codes)
    best = np.zeros(len(target_codes), np.int64)
    best_gap = np.full(len(target_codes), np.inf)
    for position in (before, after):
        code = device_codes[position]
        gap = np.abs(code - target_codes).astype(np.float64)
        better = (packing.neuron(code) == neuron) & (gap < best_gap)
        best_gap[better] = gap[better]
        best[better] = position[better]
    return best, np.isfinite(best_gap)
