"""Chip events with samna's names and fields.

Each event takes its fields positionally or by keyword, with 0 for any left out, and converts
every assignment to int: sinabs fills events field by field from torch 0-d tensors. Events are
many, so they are slotted records rather than ``Struct`` s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import starmap
from typing import Any, ClassVar, TypeVar

from hil.bulk import collector_paused
from hil.emulator.samna.values import as_int

E = TypeVar("E", bound="Event")


class Event:
    """Base of all events; ``_fields`` lists the fields in positional order."""

    _fields: ClassVar[tuple[str, ...]] = ()
    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any):
        fields = self._fields
        if len(args) + len(kwargs) == len(fields) and kwargs.keys() <= set(fields[len(args) :]):
            for name, value in zip(fields, args, strict=False):  # every field given once:
                self.__setattr__(name, value)  # how events come by the thousand
            for name, value in kwargs.items():
                self.__setattr__(name, value)
            return
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(fields)} fields")
        values = dict.fromkeys(fields, 0)
        values.update(zip(fields, args, strict=False))
        for name, value in kwargs.items():
            if name not in values:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            values[name] = value
        for name, value in values.items():
            setattr(self, name, value)

    @classmethod
    def many(cls: type[E], rows: Iterable[Sequence[int]]) -> list[E]:
        """Events from rows of fields in positional order: how the emulated chip hands its
        outputs to samna's API by the hundred thousand."""
        with collector_paused():
            return list(starmap(cls, rows))

    def __setattr__(self, name: str, value: Any) -> None:
        if type(value) is not int:  # the common case skips coercion: events come by the million
            value = as_int(value, f"{type(self).__name__}.{name}")
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


class Spike(Event):
    """A spike into a core (input coordinates) or out of one (before pooling)."""

    _fields = ("layer", "x", "y", "feature", "timestamp")
    __slots__ = _fields

    def __init__(
        self, layer: Any = 0, x: Any = 0, y: Any = 0, feature: Any = 0, timestamp: Any = 0
    ):
        """Spelled out, and setting the slots directly: spikes come by the million."""
        if not type(layer) is type(x) is type(y) is type(feature) is type(timestamp) is int:
            layer, x, y, feature, timestamp = (
                as_int(value, f"Spike.{name}")
                for name, value in zip(self._fields, (layer, x, y, feature, timestamp), strict=True)
            )
        _set_layer(self, layer)
        _set_x(self, x)
        _set_y(self, y)
        _set_feature(self, feature)
        _set_timestamp(self, timestamp)


_set_layer, _set_x, _set_y, _set_feature, _set_timestamp = (
    getattr(Spike, name).__set__ for name in Spike._fields
)


class DvsEvent(Event):
    """A sensor event; enters the chip through the DVS layer."""

    _fields = ("x", "y", "p", "timestamp")
    __slots__ = _fields


class ReadNeuronValue(Event):
    """Asks a core for the state of the neuron at memory ``address``."""

    _fields = ("layer", "address")
    __slots__ = _fields


class WriteNeuronValue(Event):
    """Sets the state of the neuron at memory ``address``."""

    _fields = ("layer", "address", "neuron_state")
    __slots__ = _fields


class NeuronValue(Event):
    """The chip's reply to ``ReadNeuronValue``."""

    _fields = ("layer", "address", "neuron_state", "timestamp")
    __slots__ = _fields
