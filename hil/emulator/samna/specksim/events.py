"""samna.specksim.events."""

from typing import Any

from hil.emulator.samna.events import Event


class Spike(Event):
    """specksim's spike; positional order as sinabs constructs it."""

    _fields = ("feature", "y", "x", "timestamp")
    __slots__ = _fields

    def __init__(self, *values: Any):
        """Positional, as sinabs' ``specksim`` builds it (samna's simulator, which is not
        emulated beyond what sinabs needs to import)."""
        for name, value in zip(self._fields, (*values, 0, 0, 0, 0), strict=False):
            self.__setattr__(name, value)
