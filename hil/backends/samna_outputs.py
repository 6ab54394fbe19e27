"""What a samna replay collects: the outputs in arrival order (spike arrays or samna's event
objects) on the inputs' time axis, the run a failed replay got as far as, and the emulated
chip's deadline in device time."""

from __future__ import annotations

import time
from operator import attrgetter
from typing import Any

import numpy as np

from hil.backends.base import Deployment, DeviceError, Run
from hil.events import SPIKE_DTYPE, empty_spikes


class Outputs:
    """What a replay collected, in arrival order: spike arrays (the emulated buffers'
    extension) or samna's event objects; whether the barrier read was answered; and when
    events arrived, for a timeout to say what the device was doing."""

    def __init__(self, spike_type: type, lead_us: int):
        self.spike_type, self.lead_us = spike_type, lead_us
        self.clear()

    def clear(self) -> None:
        self.parts: list[np.ndarray | list[Any]] = []
        self.count = 0
        self.answered = False
        self.arrivals: list[tuple[float, int]] = []  # (monotonic s, events)

    def add_array(self, spikes: np.ndarray, others: list[Any]) -> int:
        if len(spikes):
            self.parts.append(self._on_input_time(spikes))
        return self._arrived(len(spikes), others)

    def add_events(self, events: list[Any]) -> int:
        spikes = [e for e in events if isinstance(e, self.spike_type)]
        if spikes:
            self.parts.append(spikes)
        others = (
            [e for e in events if not isinstance(e, self.spike_type)]
            if len(spikes) < len(events)
            else []
        )
        return self._arrived(len(spikes), others)

    def _arrived(self, n_spikes: int, others: list[Any]) -> int:
        """Note what came; the number of monitored spikes is what counts for quiet."""
        self.answered = self.answered or any(hasattr(e, "neuron_state") for e in others)
        if n_spikes:
            self.count += n_spikes
            self.arrivals.append((time.monotonic(), n_spikes))
        return n_spikes

    def activity(self, since: float) -> str:
        """What the device did from ``since`` (monotonic s) on, as a timeout says it."""
        now = time.monotonic()
        recent = sum(n for at, n in self.arrivals if at >= since)
        if recent:
            return f"outputs still arriving at {recent / max(now - since, 1e-3):,.0f} ev/s"
        if not self.arrivals:
            return "nothing has arrived since the replay started"
        last = self.spikes()["t"][-1]
        return (
            f"nothing since {now - self.arrivals[-1][0]:.1f} s ago "
            f"(last output at stop-watch t = {last / 1e6:.6f} s)"
        )

    def spikes(self) -> np.ndarray:
        """Every spike collected, as one SPIKE_DTYPE array on the inputs' time axis."""
        if len(self.parts) != 1 or not isinstance(self.parts[0], np.ndarray):
            arrays = [
                part
                if isinstance(part, np.ndarray)
                else self._on_input_time(spikes_from_objects(part))
                for part in self.parts
            ]
            self.parts = [np.concatenate(arrays) if arrays else empty_spikes()]
        return self.parts[0]

    def _on_input_time(self, spikes: np.ndarray) -> np.ndarray:
        if self.lead_us:
            spikes = spikes.copy()
            spikes["t"] -= self.lead_us
        return spikes


class PartialRun:
    """Builds the ``Run`` a failed replay got as far as."""

    def __init__(self, deployment: Deployment, inputs: np.ndarray, outputs: Outputs):
        self.deployment, self.inputs, self.outputs = deployment, inputs, outputs
        self.started = time.time()

    def run(self, host_lag_us: float) -> Run:
        return Run(
            inputs=self.inputs,
            outputs=self.outputs.spikes(),
            deployment=self.deployment,
            wall_start=self.started,
            wall_s=time.time() - self.started,
            host_lag_us=host_lag_us,
        )


def check_quiet_in_device_time(
    device: str, outputs: Outputs, last_input_us: int, timeout_s: float
) -> None:
    """An emulated chip still emitting ``timeout_s`` of device time after its last input
    never went quiet, as a real one would not within that time after the input's release."""
    spikes = outputs.spikes()
    deadline_us = last_input_us + timeout_s * 1e6
    late = spikes["t"] > deadline_us
    if not late.any():
        return
    window_us = min(1e6, timeout_s * 1e6) or 1.0
    recent = np.count_nonzero((spikes["t"] > deadline_us - window_us) & ~late)
    outputs.parts = [spikes[~late]]  # the partial run keeps what came before the deadline
    raise DeviceError(
        device,
        f"never went quiet: {timeout_s:g} s of device time after the last input, outputs "
        f"still arriving at {recent / window_us * 1e6:,.0f} ev/s "
        f"({np.count_nonzero(late)} outputs after that)",
    )


def spikes_from_objects(events: list[Any]) -> np.ndarray:
    """samna Spike objects as a SPIKE_DTYPE array."""
    fields = attrgetter("layer", "x", "y", "feature", "timestamp")
    return np.fromiter(map(fields, events), dtype=SPIKE_DTYPE, count=len(events))
