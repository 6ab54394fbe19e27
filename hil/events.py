"""The event arrays every layer of the harness passes around.

Two structured dtypes, so that a recording, a replay and an analysis all agree on what an
event is:

- ``EVENT_DTYPE``: a sensor-side event (``t`` µs, ``x``, ``y``, ``p`` polarity or channel).
- ``SPIKE_DTYPE``: a chip-side event (``layer`` core 0-8, 12 readout, 13 DVS layer; ``x``, ``y``,
  ``feature``; ``t`` µs), as written to or read from a Speck core.

``as_events`` is the one door through which foreign arrays (tonic, DSEC, samna-style dtypes)
enter: it converts field widths and checks what the chip would otherwise silently mangle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
SPIKE_DTYPE = np.dtype(
    [("layer", "u1"), ("x", "<u2"), ("y", "<u2"), ("feature", "<u2"), ("t", "<i8")]
)

#: Field aliases found in common event layouts, mapped to the canonical name.
_FIELD_ALIASES = {"ts": "t", "timestamp": "t", "on": "p", "polarity": "p", "pol": "p"}


class EventError(ValueError):
    """An event array that violates the canonical layout.

    ``field``, ``index`` and ``value`` say where: the offending field, the first offending row
    (None when the problem is the field itself), and the value found there.
    """

    def __init__(
        self, message: str, field: str | None = None, index: int | None = None, value=None
    ):
        super().__init__(message)
        self.field = field
        self.index = index
        self.value = value


def empty_events(n: int = 0) -> np.ndarray:
    """An array of ``n`` zeroed sensor events."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def empty_spikes(n: int = 0) -> np.ndarray:
    """An array of ``n`` zeroed chip spikes."""
    return np.zeros(n, dtype=SPIKE_DTYPE)


def spikes_as_events(spikes: np.ndarray) -> np.ndarray:
    """Chip spikes as sensor events (``p`` = feature), so a chip's output can be saved and
    replayed like any recording; the layer is dropped."""
    events = empty_events(len(spikes))
    for name, column in (("t", "t"), ("x", "x"), ("y", "y"), ("p", "feature")):
        events[name] = spikes[column]
    return events


def as_events(
    array: np.ndarray,
    sensor_size: Sequence[int] | None = None,
    *,
    source: str | None = None,
) -> np.ndarray:
    """Convert a structured event array to ``EVENT_DTYPE`` and validate it.

    ``array`` may have its fields in any order and of any integer width (bool polarity
    included); aliases such as ``timestamp`` or ``on`` are accepted. ``sensor_size`` is
    ``(W, H)`` or ``(W, H, P)``; when given, coordinates must lie inside it. ``source`` (a file
    name, say) prefixes every error message.

    Raises ``EventError`` naming the field, the first offending index and its value.
    """
    prefix = f"{source}: " if source else ""
    array = np.asarray(array)
    if array.dtype.names is None:
        raise EventError(
            f"{prefix}expected a structured array with fields t, x, y, p; got dtype {array.dtype}"
        )
    if array.ndim != 1:
        raise EventError(f"{prefix}expected a 1-d event array; got shape {array.shape}")
    columns = {_FIELD_ALIASES.get(name, name): name for name in array.dtype.names}
    missing = [name for name in EVENT_DTYPE.names if name not in columns]
    if missing:
        raise EventError(
            f"{prefix}missing field {missing[0]!r} "
            f"(fields present: {', '.join(array.dtype.names)})",
            field=missing[0],
        )
    out = np.empty(len(array), dtype=EVENT_DTYPE)
    for name in EVENT_DTYPE.names:
        column = _integral(array[columns[name]], name, prefix)
        _check_range(column, name, (0, np.iinfo(EVENT_DTYPE[name]).max), prefix)
        out[name] = column
    check_events(out, sensor_size, source=source)
    return out


def check_events(
    events: np.ndarray, sensor_size: Sequence[int] | None = None, *, source: str | None = None
) -> None:
    """Check an ``EVENT_DTYPE`` array: coordinates inside ``sensor_size``, time non-decreasing."""
    prefix = f"{source}: " if source else ""
    if sensor_size is not None:
        for name, high in _sensor_limits(sensor_size).items():
            _check_range(events[name], name, (0, high), prefix)
    t = events["t"]
    if len(t) > 1:
        backwards = np.flatnonzero(t[1:] < t[:-1])
        if len(backwards):
            i = int(backwards[0]) + 1
            raise EventError(
                f"{prefix}timestamps decrease at index {i}: t={t[i]} after t={t[i - 1]} "
                "(events must be sorted by time)",
                field="t",
                index=i,
                value=int(t[i]),
            )


def sensor_size_tuple(sensor_size: Sequence[int]) -> tuple[int, ...]:
    """``(W, H)`` or ``(W, H, P)`` as ints, or a ValueError."""
    size = tuple(int(s) for s in sensor_size)
    if len(size) not in (2, 3) or min(size) < 1:
        raise ValueError(f"sensor_size must be (W, H) or (W, H, P) of positive ints; got {size}")
    largest = [np.iinfo(EVENT_DTYPE[name]).max + 1 for name in ("x", "y", "p")]
    if any(s > most for s, most in zip(size, largest, strict=False)):
        raise ValueError(
            f"sensor_size {size} is larger than events can address "
            f"(W, H ≤ {largest[0]}, P ≤ {largest[2]})"
        )
    return size


def _sensor_limits(sensor_size: Sequence[int]) -> dict[str, int]:
    """Highest valid value per coordinate field."""
    size = sensor_size_tuple(sensor_size)
    return {name: s - 1 for name, s in zip(("x", "y", "p"), size, strict=False)}


def _integral(column: np.ndarray, name: str, prefix: str) -> np.ndarray:
    """The column as integers; floats are accepted only when every value is a whole number."""
    if column.dtype.kind in "iub":
        return column
    if column.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(column) | (column != np.round(column)))
        if len(bad):
            i = int(bad[0])
            raise EventError(
                f"{prefix}field {name!r} must hold whole numbers; index {i} is {column[i]!r}",
                field=name,
                index=i,
                value=column[i].item(),
            )
        return column.astype(np.int64)
    raise EventError(
        f"{prefix}field {name!r} has dtype {column.dtype}; expected integers", field=name
    )


def _check_range(column: np.ndarray, name: str, limits: tuple[int, int], prefix: str) -> None:
    if len(column) == 0 or column.dtype.kind == "b":
        return
    low, high = limits
    below = low > 0 or column.dtype.kind != "u"  # unsigned columns cannot go below zero
    if (not below or column.min() >= low) and column.max() <= high:
        return
    bad = np.flatnonzero((column < low) | (column > high))
    i = int(bad[0])
    value = column[i].item()
    what = "negative" if value < 0 else f"above {high}"
    if name != "t" and high < np.iinfo(EVENT_DTYPE[name]).max:
        what = f"outside the sensor ({name} must be in 0..{high})"
    raise EventError(f"{prefix}field {name!r} at index {i} is {value}: {what}", name, i, value)
