"""Chip events with samna's names and fields.

Each event is built empty (every field 0) and converts every assignment to int: sinabs fills
events field by field from torch 0-d tensors. Events are many, so they are slotted records
rather than ``Struct`` s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import starmap
from typing import Any, ClassVar, TypeVar

from hil.bulk import collector_paused
from hil.emulator.samna.values import as_int

E = TypeVar("E", bound="Event")


class Event:
    """Base of all events; ``_fields`` lists the fields in positional order.

    Built empty, then assigned field by field, as every public Speck example builds samna's
    events: no keyword constructor is documented for them, so the emulated ones refuse
    arguments and a harness that relies on one fails here, not at first contact with a board
    (``Spike`` is the exception, below). The emulator itself builds events with ``of``.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}() takes no arguments: build it empty and set its fields "
                f"({', '.join(self._fields)}) one by one, as samna's events are built"
            )
        for name in self._fields:
            object.__setattr__(self, name, 0)

    @classmethod
    def of(cls: type[E], *values: Any) -> E:
        """Emulator only: an event from its fields in positional order (ints, unchecked)."""
        event = object.__new__(cls)
        for name, value in zip(cls._fields, values, strict=True):
            object.__setattr__(event, name, value)
        return event

    @classmethod
    def many(cls: type[E], rows: Iterable[Sequence[int]]) -> list[E]:
        """Events from rows of fields in positional order: how the emulated chip hands its
        outputs to samna's API by the hundred thousand."""
        with collector_paused():
            return list(starmap(cls.of, rows))

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
        """Kindness kept: ``Spike`` takes its fields by keyword (or position), because sinabs'
        own tests build speck2e and speck2f Spikes so against real samna
        (``test_event_conversion.py``). Slots set directly: spikes come by the million."""
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

    @classmethod
    def of(cls, layer: int, x: int, y: int, feature: int, timestamp: int) -> Spike:
        """Spelled out, setting the slots directly: the chip's spikes come by the million."""
        spike = object.__new__(cls)
        _set_layer(spike, layer)
        _set_x(spike, x)
        _set_y(spike, y)
        _set_feature(spike, feature)
        _set_timestamp(spike, timestamp)
        return spike


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


class ReadoutValue(Event):
    """What the readout layer sends every slow-clock cycle while it is enabled (21 bits of
    ``value``, as the datasheet lays them out)."""

    _fields = ("value", "timestamp")
    __slots__ = _fields
