"""Power samples from a devkit's power monitor, as ``Run.power`` carries them.

samna's monitor (``handle.get_power_monitor()``) emits a ``Measurement`` (``channel``,
``value`` in W, ``timestamp`` in stop-watch µs) per rail and sample period once
``start_auto_power_measurement(hz)`` is called; the host reads them through a
``BasicSinkNode_unifirm_modules_events_measurement``. The same code reads the real monitor
and the emulated one.
"""

from __future__ import annotations

from operator import attrgetter
from types import ModuleType
from typing import Any

import numpy as np

from hil.bulk import collector_paused

#: One power sample: stop-watch time (µs, end of the sample period), rail index, watts.
POWER_DTYPE = np.dtype([("t", np.int64), ("rail", np.uint8), ("watts", np.float64)])
SAMPLE_HZ = 100.0
SINK_BUFFER = "BasicSinkNode_unifirm_modules_events_measurement"


class PowerSampler:
    """A devkit's power monitor, started once, read per replay."""

    def __init__(self, samna: ModuleType, handle: Any, hz: float = SAMPLE_HZ):
        self._monitor = handle.get_power_monitor()
        self._sink = getattr(samna, SINK_BUFFER)()
        self._graph = samna.graph.EventFilterGraph()
        self._graph.sequential([self._monitor.get_source_node(), self._sink])
        self._graph.start()
        self._monitor.start_auto_power_measurement(hz)

    def clear(self) -> None:
        """Forget samples taken so far (call when the stop watch is reset)."""
        self._sink.get_events()

    def samples(self) -> np.ndarray:
        """The samples since the last ``clear``, stamped on or after the stop watch's zero."""
        with collector_paused():
            events = self._sink.get_events()
            fields = map(attrgetter("timestamp", "channel", "value"), events)
            samples = np.fromiter(fields, dtype=POWER_DTYPE, count=len(events))
        return samples[samples["t"] >= 0]

    def close(self) -> None:
        self._monitor.stop_auto_power_measurement()
        self._graph.stop()


def open_power_sampler(samna: ModuleType, handle: Any) -> PowerSampler | None:
    """The board's power monitor, or None for a board (or a samna) without a working one:
    power is an extra, and a monitor that will not start must not keep the board from
    opening (``measure.power`` then says the device has no monitor)."""
    if not hasattr(handle, "get_power_monitor") or not hasattr(samna, SINK_BUFFER):
        return None
    try:
        return PowerSampler(samna, handle)
    except Exception:  # samna raises RuntimeError (and others) for a board without one
        return None
