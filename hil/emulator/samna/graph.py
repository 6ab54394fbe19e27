"""samna.graph: chains of event nodes."""

from __future__ import annotations

from typing import Any


class EventFilterGraph:
    """A chain of nodes that events flow along once started. samna stops the flow when the
    graph object is garbage-collected, which is why callers keep it alive."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.running = False

    def sequential(self, nodes: list[Any]) -> list[Any]:
        """Chain ``nodes`` in order; returns them, as samna returns the created members."""
        self.stop()
        self.nodes = list(nodes)
        return self.nodes

    def start(self) -> bool:
        if not self.running:
            for source, target in zip(self.nodes, self.nodes[1:], strict=False):
                source.connect(target)
            self.running = True
        return True

    def stop(self) -> None:
        if self.running:
            for source, target in zip(self.nodes, self.nodes[1:], strict=False):
                source.disconnect(target)
            self.running = False

    def is_running(self) -> bool:
        return self.running

    def __del__(self) -> None:
        self.stop()
