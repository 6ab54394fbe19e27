"""Typed records that behave like samna's bound C++ structs.

A ``Struct`` has a fixed set of fields. Assigning a field converts the value (see ``values``)
and assigning an unknown name raises, as it does on samna's objects, so a typo in a
configuration fails loudly instead of being ignored. Struct-valued fields accept a struct or
a dict of its fields (sinabs writes ``layer.dimensions = {...}``); reading one returns the
live object, so ``cfg.cnn_layers[0].destinations[1].enable = True`` sticks.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from hil.emulator.samna.values import as_bool, as_int, as_int_array

S = TypeVar("S", bound="Struct")


class Field:
    """A struct field: a default and a conversion applied on every assignment."""

    def __init__(self, default: Callable[[], Any], convert: Callable[[Any, str], Any]):
        self.default = default
        self.convert = convert
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Struct | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj: Struct, value: Any) -> None:
        obj.__dict__[self.name] = self.convert(value, f"{type(obj).__name__}.{self.name}")

    def reset(self, obj: Struct) -> None:
        obj.__dict__[self.name] = self.default()


class IntArrayField(Field):
    """Nested lists of integers. Stored as an array; read back as fresh nested lists, as
    samna returns copies of its vectors."""

    def __init__(self, ndim: int):
        super().__init__(
            lambda: np.zeros((0,) * ndim, dtype=np.int64),
            lambda value, name: as_int_array(value, name, ndim),
        )

    def __get__(self, obj: Struct | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.name].tolist()


class Struct:
    """Base of every samna-style record; subclasses declare ``Field`` class attributes."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = tuple(
            name
            for klass in reversed(cls.__mro__)
            for name, attr in vars(klass).items()
            if isinstance(attr, Field)
        )

    def __init__(self, **values: Any):
        for name in self._fields:
            getattr(type(self), name).reset(self)
        for name, value in values.items():
            setattr(self, name, value)

    @classmethod
    def from_value(cls: type[S], value: Any, name: str) -> S:
        """A new struct from another struct of this type or from a dict of its fields."""
        if isinstance(value, cls):
            return cls(**{field: getattr(value, field) for field in cls._fields})
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(cls._fields))
            if unknown:
                raise TypeError(
                    f"{name}: {cls.__name__} has no field {unknown[0]!r} "
                    f"(fields: {', '.join(cls._fields)})"
                )
            return cls(**value)
        raise TypeError(f"{name} takes a {cls.__name__} or a dict; got {type(value).__name__}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r} (fields: {', '.join(self._fields)})"
            )
        super().__setattr__(name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_equal(getattr(self, f), getattr(other, f)) for f in self._fields)

    __hash__ = None  # mutable

    def __deepcopy__(self, memo: dict) -> Struct:
        """A deep copy made knowing what fields hold (ints, bools, arrays, structs, tuples of
        structs): several times faster than ``copy.deepcopy``'s generic walk, which the
        emulated devkit pays on every configuration applied (each replay's reset)."""
        twin = object.__new__(type(self))
        twin.__dict__.update((name, _copied(value, memo)) for name, value in vars(self).items())
        return twin

    def to_json(self) -> str:
        """The struct as JSON, as samna's objects offer it (the harness hashes it)."""
        return json.dumps(self._plain(), separators=(",", ":"))

    def _plain(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self._fields}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={_short(getattr(self, name))}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


def int_field(default: int = 0) -> Field:
    return Field(lambda: default, as_int)


def bool_field(default: bool = False) -> Field:
    return Field(lambda: default, as_bool)


def struct_field(struct: type[Struct], **defaults: Any) -> Field:
    """A nested struct; assigning a dict builds a fresh one from the dict's fields."""
    return Field(lambda: struct(**defaults), struct.from_value)


def struct_array_field(struct: type[Struct], length: int) -> Field:
    """A fixed number of structs, read as a tuple of live objects. Assigning a shorter
    sequence leaves the remaining entries at their defaults."""

    def convert(value: Any, name: str) -> tuple[Struct, ...]:
        if not isinstance(value, Sequence) or len(value) > length:
            raise TypeError(f"{name} takes a sequence of at most {length} {struct.__name__}")
        given = [struct.from_value(item, f"{name}[{i}]") for i, item in enumerate(value)]
        return (*given, *(struct() for _ in range(length - len(given))))

    return Field(lambda: tuple(struct() for _ in range(length)), convert)


def _copied(value: Any, memo: dict) -> Any:
    if type(value) in (int, bool, float, str):
        return value
    if isinstance(value, Struct):
        return value.__deepcopy__(memo)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copied(item, memo) for item in value)
    return copy.deepcopy(value, memo)


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value._plain()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _equal(a: Any, b: Any) -> bool:
    return bool(np.array_equal(a, b)) if isinstance(a, list) else a == b


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"<{np.shape(value)} array>" if value else "[]"
    if isinstance(value, tuple):
        return f"({len(value)} x {type(value[0]).__name__})" if value else "()"
    return repr(value)
