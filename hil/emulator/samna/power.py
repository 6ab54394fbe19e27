"""The devkit's power monitor, emulated: ``handle.get_power_monitor()``.

As on a real board, ``start_auto_power_measurement(hz)`` (at most 100 Hz) makes the monitor
emit one ``Measurement`` per rail and sample period through its source node, which the host
connects to a ``BasicSinkNode_unifirm_modules_events_measurement``. A sample's ``value`` is
the rail's mean power over the period, in W; its ``timestamp`` is the end of the period on the
stop watch (µs).

The power itself comes from the emulated chip's profile (``[power]``): each rail draws its
idle power, read with the monitor's constant error (``offset_w``) and noise
(``sample_noise_w``), plus its share of the energy of every SynOp a core executes. A core executes
SynOps at most at its ``synops_per_s``, so work that waits in a core's queue is drawn when it
is served, not when it arrives: the chip model counts the SynOps each core serves per sample
period as it runs the events (``Speck.count_served_per_period``), in the same single pass that
computes the outputs. Samples exist for the chip time that events have covered: emulated time
moves with the events. A board with ``[faults] zero_timestamps`` stamps every sample 0, as old
firmware does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hil.chip.profile import PowerModel
from hil.emulator.samna.nodes import EventNode

MAX_SAMPLE_HZ = 100.0


class Measurement:
    """One power sample: ``channel`` (the rail), ``value`` (W) and ``timestamp`` (µs)."""

    __slots__ = ("channel", "timestamp", "value")

    def __init__(self, channel: int = 0, value: float = 0.0, timestamp: int = 0):
        """Fields are kept as given (the monitor gives ints and floats): samples come by the
        hundred per second of chip time."""
        self.channel, self.value, self.timestamp = channel, value, timestamp

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
        if self._speck is not None:
            self._speck.count_served_per_period(None)
            self._speck = None

    @property
    def running(self) -> bool:
        return self._period_us is not None and self._model is not None

    @property
    def _model(self) -> PowerModel | None:
        return self._devkit.profile.power

    def run(self, speck: Any, spikes: np.ndarray, offset_us: float) -> np.ndarray:
        """``speck.run(spikes)``, then the samples of every sample period the chip time has
        passed (the chip counts the SynOps each core serves per period as it runs)."""
        if not self.running:
            return speck.run(spikes)
        self._follow(speck)
        outputs = speck.run(spikes)
        self._sample(*speck.take_served_per_period(), offset_us)
        return outputs

    def _follow(self, speck: Any) -> None:
        """A new chip (a configuration was applied), or the monitor (re)started: count from
        the chip's time now."""
        if speck is self._speck:
            return
        self._speck = speck
        speck.count_served_per_period(self._period_us)
        model, cores = self._model, len(speck.synops_served)
        self._energy = np.asarray(model.energy_per_synop_j[:cores], np.float64)
        self._share = np.asarray(model.synop_rail_share, np.float64)
        offset = np.asarray(model.offset_w or np.zeros(len(model.idle_w)), np.float64)
        self._idle = np.asarray(model.idle_w, np.float64) + offset  # what the monitor reads

    def _sample(self, first: int, served: np.ndarray, offset_us: float) -> None:
        """Emit one sample per rail for each period in ``served`` (SynOps per period and
        core, from period ``first`` on)."""
        if not len(served):
            return
        period_s = self._period_us / 1e6
        watts = self._idle + np.outer(served @ self._energy / period_s, self._share)
        noise = self._model.sample_noise_w
        if noise:
            watts += self._rng.normal(0.0, noise, watts.shape)
        periods, rails = watts.shape
        ends = np.arange(first + 1, first + 1 + periods) * self._period_us - offset_us
        if self._devkit.profile.faults.zero_timestamps:  # old firmware stamps every sample 0
            ends[:] = 0
        stamps = np.repeat(np.rint(ends).astype(np.int64), rails).tolist()
        channels = np.tile(np.arange(rails), periods).tolist()
        self._source.receive(list(map(Measurement, channels, watts.ravel().tolist(), stamps)))
