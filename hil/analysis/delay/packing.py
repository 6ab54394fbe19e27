"""Spikes packed as one int64 each (neuron above time), so that a neuron's spikes near a time
are found by one sorted search."""

from __future__ import annotations

import numpy as np

from hil.analysis.delay.tuning import EARLY_US


class Packing:
    """(neuron, time) packed into one int64 per spike, neuron bits above time bits, so one
    sort orders spikes by neuron, then time, and a time range of one neuron is a code range."""

    def __init__(self, device: np.ndarray, reference: np.ndarray):
        both = [device, reference]
        self.widths = [
            _bits(max(int(s[name].max(initial=0)) for s in both))
            for name in ("layer", "feature", "y", "x")
        ]
        self.t0 = min(int(s["t"].min(initial=0)) for s in both)
        self.span_us = max(int(s["t"].max(initial=0)) for s in both) - self.t0
        # room below zero and above the span, so a shifted time never leaves its neuron
        self.t_bits = _bits(3 * self.span_us + 2 * EARLY_US + 2)
        self.offset = self.span_us + EARLY_US + 1
        if sum(self.widths) + self.t_bits > 62:
            raise ValueError("coordinates and times too wide to match in 63 bits")
        self.time_mask = (1 << self.t_bits) - 1

    def codes(self, spikes: np.ndarray) -> np.ndarray:
        code = np.zeros(len(spikes), np.int64)
        for name, width in zip(("layer", "feature", "y", "x"), self.widths, strict=True):
            code = (code << width) | spikes[name].astype(np.int64)
        return (code << self.t_bits) | (spikes["t"].astype(np.int64) - self.t0 + self.offset)

    def shifted(self, codes: np.ndarray, shift_us: np.ndarray) -> np.ndarray:
        """Codes moved by ``shift_us`` in time, kept within their neuron's code range."""
        moved = (codes & self.time_mask) + np.rint(shift_us).astype(np.int64)
        return (codes & ~self.time_mask) | np.clip(moved, 0, self.time_mask)

    def time(self, codes: np.ndarray) -> np.ndarray:
        return (codes & self.time_mask) - self.offset + self.t0

    def neuron(self, codes: np.ndarray) -> np.ndarray:
        return codes >> self.t_bits

    def layer(self, codes: np.ndarray) -> np.ndarray:
        return (codes >> (self.t_bits + sum(self.widths[1:]))).astype(np.uint8)


def _bits(value: int) -> int:
    return max(int(value).bit_length(), 1)


def searchsorted(sorted_codes: np.ndarray, keys: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted`` for keys in any order: sorted first, which is many times faster."""
    order = np.argsort(keys, kind="stable")
    found = np.empty(len(keys), np.int64)
    found[order] = np.searchsorted(sorted_codes, keys[order], side=side)
    return found
