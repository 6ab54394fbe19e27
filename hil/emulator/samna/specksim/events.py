"""samna.specksim.events."""

from hil.emulator.samna.events import Event


class Spike(Event):
    """specksim's spike; positional order as sinabs constructs it."""

    _fields = ("feature", "y", "x", "timestamp")
    __slots__ = _fields
