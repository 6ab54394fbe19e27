"""Event nodes: the buffers the host reads and writes, and what graphs connect.

Beyond samna's API, the emulated buffers take and give spikes as arrays (``SPIKE_DTYPE``:
layer, x, y, feature, t): ``SourceBuffer.write_array`` and ``SinkBuffer.get_array``. Spikes
then travel from the host to the emulated chip and back without one Python object per
event. Everything else (barrier reads, replies) still travels as event objects, and a buffer
read through samna's own calls (``get_events``, as sinabs reads it) turns arrays into events.
"""

from __future__ import annotations

import threading
from operator import attrgetter
from typing import Any

import numpy as np

from hil.emulator.samna.events import Spike
from hil.events import SPIKE_DTYPE, empty_spikes

#: A batch of events as it travels: a spike array, or a list of event objects.
Batch = np.ndarray | list[Any]


class EventNode:
    """A point events flow through: graphs connect nodes; a node forwards what it receives."""

    def __init__(self) -> None:
        self._targets: list[EventNode] = []

    def connect(self, target: EventNode) -> None:
        self._targets.append(target)

    def disconnect(self, target: EventNode) -> None:
        if target in self._targets:
            self._targets.remove(target)

    def receive(self, events: Batch) -> None:
        """Take a batch (objects or a spike array) and pass it on unchanged."""
        for target in self._targets:
            target.receive(events)


class SourceBuffer(EventNode):
    """``BasicSourceNode_<chip>_event_input_event``: where the host writes events."""

    def write(self, events: list[Any]) -> None:
        self.receive(list(events))

    def write_array(self, spikes: np.ndarray) -> None:
        """Emulator extension: write spikes as one ``SPIKE_DTYPE`` array (``t`` in µs)."""
        spikes = np.asarray(spikes)
        if spikes.dtype != SPIKE_DTYPE:
            raise TypeError(f"write_array takes a SPIKE_DTYPE array; got dtype {spikes.dtype}")
        self.receive(spikes)


class SinkBuffer(EventNode):
    """``BasicSinkNode_<chip>_event_output_event``: where the host reads events."""

    def __init__(self) -> None:
        super().__init__()
        self._batches: list[Batch] = []
        self._count = 0
        self._arrived = threading.Condition()

    def receive(self, events: Batch) -> None:
        if not len(events):
            return
        with self._arrived:
            self._batches.append(events if isinstance(events, np.ndarray) else list(events))
            self._count += len(events)
            self._arrived.notify_all()

    def get_events(self) -> list[Any]:
        with self._arrived:
            batches = self._take()
        return _as_objects(batches)

    def get_events_blocking(self, timeout_ms: int) -> list[Any]:
        """What has arrived, waiting up to ``timeout_ms`` for something to arrive."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._count, timeout=timeout_ms / 1000)
            batches = self._take()
        return _as_objects(batches)

    def get_n_events(self, n: int, timeout_ms: int) -> list[Any]:
        with self._arrived:
            self._arrived.wait_for(lambda: self._count >= n, timeout=timeout_ms / 1000)
            events = _as_objects(self._take())
            if len(events) > n:
                self._batches, self._count = [events[n:]], len(events) - n
        return events[:n]

    def get_array(self, timeout_ms: int = 0) -> tuple[np.ndarray, list[Any]]:
        """Emulator extension: every spike that has arrived, as one ``SPIKE_DTYPE`` array in
        arrival order, and the other events (replies to reads) as objects. Waits up to
        ``timeout_ms`` for something to arrive."""
        with self._arrived:
            if timeout_ms:
                self._arrived.wait_for(lambda: self._count, timeout=timeout_ms / 1000)
            batches = self._take()
        spikes, others = [], []
        for batch in batches:
            if isinstance(batch, np.ndarray):
                spikes.append(batch)
                continue
            objects = [event for event in batch if type(event) is Spike]
            if objects:
                spikes.append(spike_array(objects))
            others.extend(event for event in batch if type(event) is not Spike)
        if len(spikes) == 1:
            return spikes[0], others
        return (np.concatenate(spikes) if spikes else empty_spikes()), others

    def clear_events(self) -> None:
        with self._arrived:
            self._take()

    def _take(self) -> list[Batch]:
        batches, self._batches, self._count = self._batches, [], 0
        return batches


def spike_array(spikes: list[Spike]) -> np.ndarray:
    """``Spike`` objects as one ``SPIKE_DTYPE`` array."""
    fields = attrgetter(*Spike._fields)
    return np.fromiter(map(fields, spikes), dtype=SPIKE_DTYPE, count=len(spikes))


def _as_objects(batches: list[Batch]) -> list[Any]:
    """Batches as samna's API returns them: one event object per event."""
    events: list[Any] = []
    for batch in batches:
        events.extend(Spike.many(batch.tolist()) if isinstance(batch, np.ndarray) else batch)
    return events
