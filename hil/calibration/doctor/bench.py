"""The doctor's hands on a board: configurations, events, reads and the stop watch, through
samna's own API (``SamnaDevice.board``), real or emulated.

Every configuration has one core in use, built field by field with the board's own
configuration type; neuron 0 starts at a marker no other configuration of the doctor uses,
so a read that returns it proves the configuration is the one on the chip (``Bench.load``).
Events are built empty and assigned, as every public Speck example does. Reads and waits are
bounded by host seconds; measurement windows go through ``sleep`` (a fake wall clock in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hil.backends.base import DeviceError
from hil.backends.samna_backend import SamnaBoard, SamnaDevice

#: How long the board may take to answer a read, or to take a configuration, before the
#: doctor gives up on it (host seconds).
REPLY_TIMEOUT_S = 2.0
WRITE_TIMEOUT_S = 10.0
POLL_MS = 5


class Bench:
    """The board through samna's API: configurations, events, reads, the stop watch."""

    def __init__(
        self,
        device: SamnaDevice,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ):
        """``clock`` and ``sleep`` are the host's (a fake wall clock in tests)."""
        self.device = device
        self.board: SamnaBoard = device.board()
        self.chip = self.board.chip
        self.n_cores = device.profile.n_cores
        self.clock, self.sleep = clock, sleep
        self.device_s = 0.0  # stop-watch time the doctor's measurements span
        self.markers = iter(range(1000, 30000, 7))

    # -- configurations ----------------------------------------------------------------------

    def config(
        self,
        core: int,
        *,
        marker: int | None = None,
        threshold: int = 1,
        leak: bool = False,
        size: int = 1,
        channels: int = 1,
        kernel: int = 1,
    ) -> tuple[Any, int]:
        """A configuration with one core in use: ``channels`` output maps of ``size`` x
        ``size`` from one input map, weights 1, threshold ``threshold``, reset to zero,
        monitored. Neuron 0 starts at ``marker`` (a fresh one unless given), every other at
        0. Returns the configuration and the marker."""
        marker = next(self.markers) if marker is None else marker
        config = self.chip.configuration.SpeckConfiguration()
        layer = config.cnn_layers[core]
        side_in = size + kernel - 1
        layer.dimensions = {
            "input_shape": {"size": {"x": side_in, "y": side_in}, "feature_count": 1},
            "output_shape": {"size": {"x": size, "y": size}, "feature_count": channels},
            "kernel_size": kernel,
        }
        layer.weights = np.ones((channels, 1, kernel, kernel), dtype=int).tolist()
        layer.biases = [1] * channels
        initial = np.zeros((channels, size, size), dtype=int)
        initial[0, 0, 0] = marker
        layer.neurons_initial_value = initial.tolist()
        layer.threshold_high = threshold
        layer.threshold_low = -32768
        layer.return_to_zero = True
        layer.leak_enable = leak
        layer.monitor_enable = True
        return config, marker

    def load(self, config: Any, core: int, marker: int, leaks: bool = False) -> float:
        """Apply ``config`` and wait until the chip holds it (neuron 0 of ``core`` reads
        ``marker``, or more when the configuration ``leaks``: the slow clock may have ticked
        meanwhile; markers grow, so an earlier configuration reads less); returns the host
        seconds from the call to that read's reply."""
        start, give_up = self.clock(), time.monotonic() + WRITE_TIMEOUT_S
        self.board.model.apply_configuration(config)
        while True:
            state = self.read(core)[0]
            if state == marker or (leaks and state > marker):
                return self.clock() - start
            if time.monotonic() > give_up:
                raise NotWritten(core, marker, state, WRITE_TIMEOUT_S)

    # -- events ---------------------------------------------------------------------------

    def spike(self, core: int, t_us: int, x: int = 0, y: int = 0) -> Any:
        """An input spike, built field by field as every public Speck example does."""
        event = self.chip.event.Spike()
        event.layer, event.x, event.y, event.feature, event.timestamp = core, x, y, 0, t_us
        return event

    def read_event(self, core: int, address: int = 0) -> Any:
        event = self.chip.event.ReadNeuronValue()
        event.layer, event.address = core, address
        return event

    def start_stop_watch(self) -> float:
        """Stop-watch time zero now; returns the host time it was started at."""
        self.board.stop_watch.reset()
        self.board.stop_watch.start()
        return self.clock()

    def write(self, events: list[Any]) -> None:
        self.board.source.write(events)

    def read(self, core: int, address: int = 0) -> tuple[int, Any, list[Any]]:
        """Neuron ``address``'s state on ``core``, the reply event (it carries the stop
        watch's time) and every event that came with it, after everything written before
        the read."""
        self.write([self.read_event(core, address)])
        events = self.collect(lambda got: any(map(is_reply, got)), REPLY_TIMEOUT_S)
        reply = next((e for e in events if is_reply(e)), None)
        if reply is None:
            raise DeviceError(
                str(self.device.info),
                f"no reply to a neuron read within {REPLY_TIMEOUT_S:g} s (core {core})",
            )
        return int(reply.neuron_state), reply, events

    def collect(self, done: Callable[[list[Any]], bool], timeout_s: float) -> list[Any]:
        """Events from the sink until ``done(events so far)`` or ``timeout_s`` (host)."""
        events = list(self.board.sink.get_events())
        deadline = time.monotonic() + timeout_s
        while not done(events) and time.monotonic() < deadline:
            events += self.board.sink.get_events_blocking(POLL_MS)
        return events

    def drain(self, until_us: int, started: float) -> list[Any]:
        """What else arrives until the stop watch has passed ``until_us`` (on a real board,
        waiting for it), then until the sink stays quiet."""
        events = list(self.board.sink.get_events())
        if self.board.realtime:
            self.sleep(max(0.0, started + until_us / 1e6 - self.clock()))
        while True:
            more = self.board.sink.get_events_blocking(self.board.quiet_ms or 1)
            events += more
            if not more:
                return events


class NotWritten(Exception):
    """A configuration that did not take effect within the time allowed."""

    def __init__(self, core: int, marker: int, state: int, timeout_s: float):
        super().__init__(
            f"the configuration did not take effect within {timeout_s:g} s (core {core}'s "
            f"neuron 0 reads {state}, the new configuration starts it at {marker})"
        )


def is_reply(event: Any) -> bool:
    return hasattr(event, "neuron_state")


def is_spike(event: Any) -> bool:
    return hasattr(event, "feature") and not hasattr(event, "neuron_state")


def neuron_address(neuron: int, side: int) -> int:
    """Neuron ``neuron`` (row-major on a ``side`` x ``side`` map of one feature) as sinabs'
    ``calculate_neuron_address`` lays it out: x in the low bits, then y."""
    y, x = divmod(neuron, side)
    return (y << (side - 1).bit_length()) | x
