"""Chip time that passes with wall time while nothing else moves it.

The emulated devkit runs events as fast as it can, each at its own timestamp: a second of
input takes milliseconds, and a replay never waits for the wall clock. A real chip's time also
passes when it has nothing to do: its slow clock ticks (and neurons leak) while a test sleeps.
``WallTime`` gives the chip time the wall clock implies, counted from an anchor (a chip time
and the wall time it was set at), while the board's clocks run. It never holds chip time back:
a chip whose events have run ahead of the wall clock stays at its events' time.
"""

from __future__ import annotations

from time import monotonic


class WallTime:
    """The wall clock's view of one chip's time, in the chip's µs."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None  # (chip µs, monotonic s)

    @property
    def running(self) -> bool:
        return self._anchor is not None

    def start(self, chip_us: float) -> None:
        """Let wall time pass from ``chip_us`` on (nothing, if it already does)."""
        if self._anchor is None:
            self._anchor = (chip_us, monotonic())

    def stop(self) -> None:
        self._anchor = None

    def restart(self, chip_us: float, since: float | None = None) -> None:
        """Count wall time again from ``chip_us``, now or ``since`` (a ``monotonic`` time in
        the past), if it passes at all."""
        if self._anchor is not None:
            now = monotonic()
            self._anchor = (chip_us, now if since is None else min(since, now))

    def chip_us(self, events_us: float) -> float:
        """Chip time now: ``events_us`` (the time the chip's events reached), or later by the
        wall time passed since the anchor."""
        if self._anchor is None:
            return events_us
        chip_us, wall_s = self._anchor
        return max(events_us, chip_us + (monotonic() - wall_s) * 1e6)
