"""Event nodes: the buffers the host reads and writes, and what graphs connect."""

from __future__ import annotations

import threading
from typing import Any


class EventNode:
    """A point events flow through: graphs connect nodes; a node forwards what it receives."""

    def __init__(self) -> None:
        self._targets: list[EventNode] = []

    def connect(self, target: EventNode) -> None:
        self._targets.append(target)

    def disconnect(self, target: EventNode) -> None:
        if target in self._targets:
            self._targets.remove(target)

    def receive(self, events: list[Any]) -> None:
        for target in self._targets:
            target.receive(events)


class SourceBuffer(EventNode):
    """``BasicSourceNode_<chip>_event_input_event``: where the host writes events."""

    def write(self, events: list[Any]) -> None:
        self.receive(list(events))


class SinkBuffer(EventNode):
    """``BasicSinkNode_<chip>_event_output_event``: where the host reads events."""

    def __init__(self) -> None:
        super().__init__()
        self._events: list[Any] = []
        self._arrived = threading.Condition()

    def receive(self, events: list[Any]) -> None:
        with self._arrived:
            self._events.extend(events)
            self._arrived.notify_all()

    def get_events(self) -> list[Any]:
        with self._arrived:
            events, self._events = self._events, []
        return events

    def get_events_blocking(self, timeout_ms: int) -> list[Any]:
        """What has arrived, waiting up to ``timeout_ms`` for something to arrive."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._events, timeout=timeout_ms / 1000)
            events, self._events = self._events, []
        return events

    def get_n_events(self, n: int, timeout_ms: int) -> list[Any]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._events) >= n, timeout=timeout_ms / 1000)
            events, self._events = self._events[:n], self._events[n:]
        return events

    def clear_events(self) -> None:
        self.get_events()
