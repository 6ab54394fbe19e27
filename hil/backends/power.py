"""Power samples from a devkit's power monitor, as ``Run.power`` carries them.

samna's monitor (``handle.get_power_monitor()``) emits a ``Measurement`` (``channel``,
``value`` in W, ``timestamp`` in stop-watch µs) per rail and sample period once
``start_auto_power_measurement(hz)`` is called; the host reads them through a
``BasicSinkNode_unifirm_modules_events_measurement``. The same code reads the real monitor
and the emulated one.

samna's names differ between versions (the datasheet's example uses ``..._monitor`` and
``start_auto_power_monitor``): each name is tried in order, and when no monitor can be had
the reason is logged and kept (``open_power_sampler``), never a silent "no power". Old
firmware stamps every sample 0: such samples cannot be placed in time, so a replay's samples
are dropped, and the reason kept, when every one is stamped 0.
"""

from __future__ import annotations

import logging
from operator import attrgetter
from types import ModuleType
from typing import Any

import numpy as np

from hil.bulk import collector_paused

#: One power sample: stop-watch time (µs, end of the sample period), rail index, watts.
POWER_DTYPE = np.dtype([("t", np.int64), ("rail", np.uint8), ("watts", np.float64)])
SAMPLE_HZ = 100.0
#: samna's names for the power sink and the monitor's calls, newest first.
SINK_BUFFERS = (
    "BasicSinkNode_unifirm_modules_events_measurement",
    "BasicSinkNode_unifirm_modules_events_monitor",
)
START_CALLS = ("start_auto_power_measurement", "start_auto_power_monitor")
STOP_CALLS = ("stop_auto_power_measurement", "stop_auto_power_monitor")
log = logging.getLogger("hil.power")


class PowerSampler:
    """A devkit's power monitor, started once, read per replay."""

    def __init__(self, samna: ModuleType, handle: Any, sink: str, hz: float = SAMPLE_HZ):
        self._monitor = handle.get_power_monitor()
        self._sink = getattr(samna, sink)()
        self._graph = samna.graph.EventFilterGraph()
        self._graph.sequential([self._monitor.get_source_node(), self._sink])
        self._graph.start()
        _first_call(self._monitor, START_CALLS)(hz)
        #: Why the last replay's samples were dropped (all stamped 0), else None.
        self.problem: str | None = None

    def clear(self) -> None:
        """Forget samples taken so far (call when the stop watch is reset)."""
        self._sink.get_events()

    def samples(self) -> np.ndarray:
        """The samples since the last ``clear``, stamped on or after the stop watch's zero;
        none (and ``problem`` says why) when more than one sample came and every one is
        stamped 0."""
        with collector_paused():
            events = self._sink.get_events()
            fields = map(attrgetter("timestamp", "channel", "value"), events)
            samples = np.fromiter(fields, dtype=POWER_DTYPE, count=len(events))
        self.problem = None
        if len(samples) > 1 and not samples["t"].any():
            self.problem = (
                f"the power monitor stamped all {len(samples)} samples 0 (old firmware?): "
                "they cannot be placed in time; update the board's firmware"
            )
            log.warning(self.problem)
            return samples[:0]
        return samples[samples["t"] >= 0]

    def close(self) -> None:
        _first_call(self._monitor, STOP_CALLS)()
        self._graph.stop()


def open_power_sampler(
    samna: ModuleType, handle: Any, device: str = "the board"
) -> tuple[PowerSampler | None, str | None]:
    """The board's power monitor, or (None, why not) for a board (or a samna) without a
    working one: power is an extra, and a monitor that will not start must not keep the
    board from opening (``measure.power`` then says why there is no power). Why is logged."""
    sink = next((name for name in SINK_BUFFERS if hasattr(samna, name)), None)
    if not hasattr(handle, "get_power_monitor"):
        reason = f"{device} has no power monitor (no get_power_monitor)"
    elif sink is None:
        reason = f"{device}: this samna has no power sink ({' or '.join(SINK_BUFFERS)})"
    else:
        try:
            return PowerSampler(samna, handle, sink), None
        except Exception as exc:  # samna raises RuntimeError (and others) for a board without one
            reason = f"{device}: its power monitor did not start ({type(exc).__name__}: {exc})"
    log.info("no power samples: %s", reason)
    return None, reason


def _first_call(monitor: Any, names: tuple[str, ...]) -> Any:
    """The monitor's method by the first of ``names`` it has (samna versions differ)."""
    for name in names:
        call = getattr(monitor, name, None)
        if callable(call):
            return call
    raise AttributeError(f"the power monitor has none of {', '.join(names)}")
