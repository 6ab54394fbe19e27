"""The devkit's power monitor, emulated: ``handle.get_power_monitor()``.

As on a real board, ``start_auto_power_measurement(hz)`` (at most 100 Hz) makes the monitor
emit one ``Measurement`` per rail and sample period through its source node, which the host
connects to a ``BasicSinkNode_unifirm_modules_events_measurement``. A sample's ``value`` is
the rail's mean power over the period, in W; its ``timestamp`` is the end of the period on the
stop watch (µs).

The power itself comes from the emulated chip's profile (``[power]``): each rail draws its
idle power, plus its share of the energy of every SynOp a core executes. A core executes
SynOps at most at its ``synops_per_s``, so work that waits in a core's queue is drawn when it
is served, not when it arrives (a fluid queue per core over the sample periods). Samples
exist for the chip time that events have covered: emulated time moves with the events.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from hil.chip.profile import PowerModel
from hil.emulator.samna.nodes import EventNode

MAX_SAMPLE_HZ = 100.0


class Measurement:
    """One power sample: ``channel`` (the rail), ``value`` (W) and ``timestamp`` (µs)."""

    __slots__ = ("channel", "timestamp", "value")

    def __init__(self, channel: int = 0, value: float = 0.0, timestamp: int = 0):
        self.channel, self.value, self.timestamp = int(channel), float(value), int(timestamp)

    def __repr__(self) -> str:
        fields = f"channel={self.channel}, value={self.value}, timestamp={self.timestamp}"
        return f"Measurement({fields})"


class PowerMonitor:
    """The monitor of one emulated board; the board's chip model runs events through it."""

    def __init__(self, devkit: Any) -> None:
        self._devkit = devkit
        self._source = EventNode()
        self._period_us: float | None = None
        self._speck: Any = None
        self._rng = np.random.default_rng(0)

    def get_source_node(self) -> EventNode:
        return self._source

    def start_auto_power_measurement(self, hz: float) -> None:
        self._devkit.check_connected()
        if not 0 < hz <= MAX_SAMPLE_HZ:
            raise ValueError(f"power sample rate must be in (0, {MAX_SAMPLE_HZ:g}] Hz; got {hz}")
        self._period_us = 1e6 / float(hz)
        self._speck = None
        self._rng = np.random.default_rng(0)

    def stop_auto_power_measurement(self) -> None:
        self._period_us = None

    @property
    def running(self) -> bool:
        return self._period_us is not None and self._model is not None

    @property
    def _model(self) -> PowerModel | None:
        return self._devkit.profile.power

    def run(self, speck: Any, spikes: np.ndarray, offset_us: float) -> np.ndarray:
        """``speck.run(spikes)``, sampling power on the way: the events are run period by
        period so the SynOps each core executes are known per sample period."""
        if not self.running:
            return speck.run(spikes)
        self._follow(speck)
        period = self._period_us
        if not len(spikes):
            return speck.run(spikes)
        index = (spikes["t"] // period).astype(np.int64)
        bounds = [0, *(np.flatnonzero(np.diff(index)) + 1).tolist(), len(spikes)]
        outputs = []
        for start, stop in pairwise(bounds):
            chunk = spikes[start:stop]  # slices, not np.split: no copies per period
            self._close_until(int(chunk["t"][0] // period), offset_us)
            before = speck.synops_served
            outputs.append(speck.run(chunk))
            self._arrived += speck.synops_served - before
        self._close_until(int(speck.now_us // period), offset_us)
        merged = np.concatenate(outputs)
        if np.all(merged["t"][1:] >= merged["t"][:-1]):
            return merged
        return merged[np.argsort(merged["t"], kind="stable")]

    def _follow(self, speck: Any) -> None:
        """A new chip (a configuration was applied): its time starts again at zero."""
        if speck is self._speck:
            return
        self._speck = speck
        self._period = int(speck.now_us // self._period_us)
        cores = len(speck.synops_served)
        self._arrived = np.zeros(cores, np.float64)
        self._backlog = np.zeros(cores, np.float64)
        model, period_s = self._model, self._period_us / 1e6
        self._capacity = np.asarray(speck.profile.synops_per_s[:cores], np.float64) * period_s
        self._energy = np.asarray(model.energy_per_synop_j[:cores], np.float64)
        self._share = np.asarray(model.synop_rail_share, np.float64)
        self._idle = np.asarray(model.idle_w, np.float64)

    def _close_until(self, period: int, offset_us: float) -> None:
        """Emit the samples of every period before ``period``."""
        noise = self._model.sample_noise_w
        period_s = self._period_us / 1e6
        samples = []
        while self._period < period:
            waiting = self._backlog + self._arrived
            served = np.minimum(waiting, self._capacity)
            self._backlog = waiting - served
            self._arrived[:] = 0.0
            watts = self._idle + self._share * float(served @ self._energy) / period_s
            if noise:
                watts = watts + self._rng.normal(0.0, noise, len(watts))
            self._period += 1
            stamp = round(self._period * self._period_us - offset_us)
            samples += [Measurement(rail, w, stamp) for rail, w in enumerate(watts.tolist())]
        if samples:
            self._source.receive(samples)
