"""A recording: events with their sensor size and metadata, and the error every reader raises.

Inside the harness a recording's time starts at its first event: a camera's Unix-epoch
timestamps become µs since the recording began, and the absolute time of the first event is
kept as ``metadata["t_origin_us"]``. Readers live beside this module: the native HDF5 layout
(``hil.recordings.hdf5``), tonic's ``.npy`` and AEDAT4 (``hil.recordings.formats``), and the
manifest that names a folder's recordings (``hil.recordings.manifest``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from hil.events import as_events, sensor_size_tuple

ORIGIN_KEY = "t_origin_us"


class RecordingError(ValueError):
    """A recording that cannot be read, or that no longer matches its manifest entry."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class Recording:
    """A recording: events with their sensor size and metadata.

    Events are read on first use of ``.events``; ``.window`` reads only a time slice, so a
    test can replay a second of an hour-long recording without loading the hour.
    """

    def __init__(
        self,
        path: Path | None,
        sensor_size: tuple[int, int, int],
        metadata: dict,
        load_events: Callable[[], np.ndarray],
        read_window: Callable[[int, int], np.ndarray] | None = None,
        span_us: Callable[[], int] | None = None,
    ):
        self.path = path
        self.sensor_size = sensor_size
        self.metadata = metadata
        self._load_events = load_events
        self._read_window = read_window
        self._span_us = span_us

    @classmethod
    def from_events(cls, events: np.ndarray, sensor_size: Sequence[int], **metadata) -> Recording:
        """An in-memory recording (validated), e.g. for a test that builds its own stimulus;
        its times are kept as given."""
        size = recording_sensor_size(sensor_size)
        checked = as_events(events, size)
        return cls(None, size, metadata, lambda: checked)

    @cached_property
    def events(self) -> np.ndarray:
        return self._load_events()

    def __len__(self) -> int:
        return len(self.events)

    @property
    def name(self) -> str:
        return self.path.stem if self.path else str(self.metadata.get("name", ""))

    @property
    def duration_us(self) -> int:
        """Time from the first to the last event."""
        if self._span_us is not None and "events" not in self.__dict__:
            return self._span_us()
        t = self.events["t"]
        return int(t[-1] - t[0]) if len(t) else 0

    @cached_property
    def sha256(self) -> str:
        """Of the file's bytes (of the event array for in-memory recordings)."""
        if self.path is None:
            return hashlib.sha256(self.events.tobytes()).hexdigest()
        return file_sha256(self.path)

    def window(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= t < t1_us`` (µs since the first event)."""
        if self._read_window is not None and "events" not in self.__dict__:
            return self._read_window(int(t0_us), int(t1_us))
        t = self.events["t"]
        lo, hi = np.searchsorted(t, [t0_us, t1_us], side="left")
        return self.events[lo:hi]

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"Recording({where!r}, sensor_size={self.sensor_size})"


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def rebased(events: np.ndarray, metadata: dict) -> np.ndarray:
    """``events`` with time counted from the first event; the first event's absolute time is
    added to ``metadata["t_origin_us"]``. The input array is not changed."""
    if not len(events) or events["t"][0] == 0:
        return events
    first = int(events["t"][0])
    shifted = events.copy()
    shifted["t"] -= first
    metadata[ORIGIN_KEY] = int(metadata.get(ORIGIN_KEY, 0)) + first
    return shifted


def recording_sensor_size(sensor_size: Sequence[int]) -> tuple[int, int, int]:
    """A recording's sensor size always has a polarity count: two unless given."""
    size = sensor_size_tuple(sensor_size)
    return size if len(size) == 3 else (*size, 2)


def plain_value(value):
    """HDF5 attribute values as plain Python values."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
