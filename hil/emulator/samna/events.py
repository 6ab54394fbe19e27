"""Chip events with samna's names and fields.

Each event takes its fields positionally or by keyword, with 0 for any left out, and converts
every assignment to int: sinabs fills events field by field from torch 0-d tensors. Events are
many, so they are slotted records rather than ``Struct`` s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
        """Events from rows of plain ints, in field order, without per-field coercion: how
        the emulated chip emits its outputs by the hundred thousand."""
        setters = [getattr(cls, name).__set__ for name in cls._fields]
        new = object.__new__
        events = []
        with collector_paused():
            for row in rows:
                event = new(cls)
                for set_field, value in zip(setters, row, strict=True):
                    set_field(event, value)
                events.append(event)
        return events

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
