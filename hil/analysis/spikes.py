"""Small operations on spike arrays (``SPIKE_DTYPE``) that several analyses share."""

from __future__ import annotations

import numpy as np


def neuron_keys(spikes: np.ndarray) -> np.ndarray:
    """One int64 per spike naming its neuron: (layer, feature, y, x) packed 8+16+16+16 bits."""
    key = spikes["layer"].astype(np.int64)
    for name in ("feature", "y", "x"):
        key = (key << 16) | spikes[name].astype(np.int64)
    return key


def event_counts(t_us: np.ndarray, bin_us: int, t0_us: int, n_bins: int) -> np.ndarray:
    """Events per ``bin_us`` bin from ``t0_us``; events outside the ``n_bins`` bins are left out."""
    bins = (np.asarray(t_us, dtype=np.int64) - t0_us) // bin_us
    inside = (bins >= 0) & (bins < n_bins)
    return np.bincount(bins[inside], minlength=n_bins)[:n_bins]
