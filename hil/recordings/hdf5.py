"""The native recording file: HDF5, readable by any HDF5 tool without a plugin.

One file per recording::

    /events/t, /events/x, /events/y, /events/p   chunked, gzip + shuffle (built into libhdf5)
    /ms_to_idx                                   row i = index of the first event with t >= i ms
    attrs: format, format_version, sensor_size, t_unit = "us", t_origin_us, and free metadata

``/ms_to_idx`` lets ``Recording.window`` read only the chunks a time window covers; it is
checked when the file is opened, and left out where it would outweigh the events (a long gap).
Times are stored from the first event on; the absolute time of the first is ``t_origin_us``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from hil.bounds import check_array_size
from hil.events import EVENT_DTYPE, EventError, as_events, check_events
from hil.files import atomic_path
from hil.recordings.base import (
    ORIGIN_KEY,
    Recording,
    RecordingError,
    first_line,
    plain_value,
    rebased,
    recording_sensor_size,
)

FORMAT = "speck-hil-recording"
FORMAT_VERSION = 1
CHUNK_EVENTS = 1 << 16
_RESERVED_ATTRS = {"format", "format_version", "sensor_size", "t_unit", "t_origin_us"}
#: The most an event file's stored bytes may expand when read: deflate cannot exceed 1032x (real
#: events give 2-10x); a file declaring more events than that is refused before anything is
#: allocated for them.
MAX_COMPRESSION = 1100
#: The ms index is written only while it has at most this many rows, or fewer than two per
#: event: a 10-hour gap in a few events would otherwise write a 288 MB index for 1 kB of events.
INDEX_FREE_ROWS = 1 << 20


def save(
    path: str | os.PathLike, events: np.ndarray, sensor_size: Sequence[int], **metadata
) -> Path:
    """Write ``events`` in the native HDF5 layout, atomically (a crash leaves no half file).

    Times are stored from the first event on; its absolute time (plus ``t_origin_us`` when the
    events were already relative to some origin) is the ``t_origin_us`` attribute. Other
    ``metadata`` values (source, device, date, description, ...) become root attributes; they
    must be strings, numbers or booleans. The bytes depend only on the arguments, so a seeded
    generator gives a file with a stable sha256.
    """
    path = Path(path)
    size = recording_sensor_size(sensor_size)
    events = as_events(events, size, source=str(path))
    origin = {ORIGIN_KEY: metadata.pop(ORIGIN_KEY, 0)}
    clash = _RESERVED_ATTRS & metadata.keys()
    if clash:
        raise ValueError(f"metadata keys {sorted(clash)} are reserved by the file format")
    events = rebased(events, origin)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sensor_size": np.asarray(size, dtype=np.int64),
        "t_unit": "us",
        ORIGIN_KEY: np.int64(origin[ORIGIN_KEY]) if origin[ORIGIN_KEY] else None,
    }
    with atomic_hdf5(path, **header, **metadata) as f:
        group = f.create_group("events")
        for name in EVENT_DTYPE.names:
            _write_column(group, name, np.ascontiguousarray(events[name]))
        if index_rows(events["t"]) <= max_index_rows(len(events)):
            f.create_dataset("ms_to_idx", data=ms_index(events["t"]))
    return path


@contextmanager
def atomic_hdf5(path: Path, **attrs) -> Iterator[h5py.File]:
    """An HDF5 file to write that appears at ``path`` only when complete (``files.atomic_path``).
    ``attrs`` that are not None become root attributes, in order."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        for key, value in attrs.items():
            if value is not None:
                f.attrs[key] = value
        yield f


def _write_column(group: h5py.Group, name: str, column: np.ndarray) -> None:
    if len(column) == 0:
        group.create_dataset(name, data=column)
        return
    group.create_dataset(
        name,
        data=column,
        chunks=(min(len(column), CHUNK_EVENTS),),
        compression="gzip",
        compression_opts=1,
        shuffle=True,
    )


def index_rows(t: np.ndarray) -> int:
    """Rows of the ms index of times ``t`` (from 0)."""
    return int(t[-1]) // 1000 + 2 if len(t) else 1


def max_index_rows(n_events: int) -> int:
    """The most rows an index over ``n_events`` events may have: beyond, it is left out."""
    return max(INDEX_FREE_ROWS, 2 * n_events + 2)


def ms_index(t: np.ndarray) -> np.ndarray:
    """Row i = index of the first event with ``t >= i`` ms; the last row is ``len(t)``."""
    n_ms = index_rows(t)
    check_array_size("the ms index", n_ms, 8, f"events span {n_ms - 2} ms")
    return np.searchsorted(t, np.arange(n_ms, dtype=np.int64) * 1000, side="left").astype(np.int64)


def _open_hdf5(path: Path) -> Recording:
    with _reading(path) as f:
        _check_self_contained(path, f)
        n = _hdf5_length(path, f)
        sensor_size = _sensor_size_attr(path, f)
        metadata = {
            key: plain_value(value) for key, value in f.attrs.items() if key not in _RESERVED_ATTRS
        }
        shift = int(f["events/t"][0]) if n else 0
        metadata[ORIGIN_KEY] = _origin_attr(path, f) + shift
        if "ms_to_idx" in f:
            _check_index(path, f, n)

    def load_events() -> np.ndarray:
        return _shifted(_read_hdf5_events(path, sensor_size, 0, n), shift)

    def read_window(t0: int, t1: int) -> np.ndarray:
        t0, t1 = t0 + shift, t1 + shift
        lo, hi, rows = _window_bounds(path, t0, t1, n)
        # One event either side as well: the index rows used are checked against them.
        first, last = max(lo - 1, 0), min(hi + 1, n)
        events = _read_hdf5_events(path, sensor_size, first, last)
        for row, at in rows:
            _check_index_row(path, events["t"], row, at, n, first)
        a, b = np.searchsorted(events["t"], [t0, t1], side="left")
        return _shifted(events[a:b], shift)

    def span_us() -> int:
        if n == 0:
            return 0
        with _reading(path) as f:
            t = f["events/t"]
            return int(t[n - 1]) - int(t[0])

    return Recording(path, sensor_size, metadata, load_events, read_window, span_us)


def _shifted(events: np.ndarray, shift: int) -> np.ndarray:
    if shift:
        events["t"] -= shift
    return events


def _origin_attr(path: Path, f: h5py.File) -> int:
    value = plain_value(f.attrs.get(ORIGIN_KEY, 0))
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordingError(path, f"root attribute {ORIGIN_KEY} is {value!r}, not an integer")
    return value


#: Rows of the ms index checked against the event times when a file is opened.
INDEX_SAMPLES = 4


def _check_index(path: Path, f: h5py.File, n: int) -> None:
    """Refuse a ``/ms_to_idx`` that does not describe the events: a wrong index would make
    ``window`` return the wrong events (or none) without any error."""
    index, t = f["ms_to_idx"], f["events/t"]
    if not isinstance(index, h5py.Dataset) or index.ndim != 1 or index.dtype.kind not in "iu":
        raise RecordingError(path, "/ms_to_idx is not a one-dimensional integer dataset")
    rows = index_rows(np.array([t[n - 1]])) if n else 1
    if index.shape[0] != rows:
        raise RecordingError(
            path,
            f"/ms_to_idx has {index.shape[0]} rows; events spanning {int(t[n - 1]) if n else 0} "
            f"µs need {rows} (the index is inconsistent with the events)",
        )
    check_array_size(f"{path}: /ms_to_idx", rows, 8)
    values = index[:].astype(np.int64)
    if values[0] < 0 or values[-1] != n:
        raise RecordingError(
            path, f"/ms_to_idx runs from {values[0]} to {values[-1]}; it must end at {n} events"
        )
    steps = np.diff(values)
    if len(steps) and steps.min() < 0:
        row = int(np.argmax(steps < 0)) + 1
        raise RecordingError(path, f"/ms_to_idx decreases at row {row}")
    for row in np.unique(np.linspace(0, rows - 1, INDEX_SAMPLES).astype(np.int64)):
        _check_index_row(path, t, int(row), int(values[row]), n)


def _check_index_row(
    path: Path, t: h5py.Dataset | np.ndarray, row: int, at: int, n: int, first: int = 0
) -> None:
    """Row ``row`` (pointing at event ``at`` of ``n``) must point at the first event with
    ``t >= row`` ms; ``t`` holds the times of events ``first`` on."""
    edge = row * 1000
    if (at < n and int(t[at - first]) < edge) or (at > 0 and int(t[at - 1 - first]) >= edge):
        raise RecordingError(
            path,
            f"/ms_to_idx row {row} is {at}, but that is not the first event at or after "
            f"{row} ms (the index is inconsistent with the events)",
        )


def _check_self_contained(path: Path, f: h5py.File) -> None:
    """Refuse a file whose objects live elsewhere: an external link, external raw storage or a
    virtual dataset reads another file (a FIFO would hang the reader, /dev/zero would fill
    memory, and the file's sha256 would no longer cover the events). The links are checked
    before any is followed. (A visit stops at the first callback that returns a value; raising
    inside one would be lost in h5py.)"""
    problem = f.visititems_links(_foreign_link) or f.visititems(_foreign_data)
    if problem:
        raise RecordingError(path, f"{problem} (refused: a recording must hold its own data)")


def _foreign_link(name: str, link: h5py.HardLink | h5py.SoftLink | h5py.ExternalLink):
    if isinstance(link, h5py.ExternalLink):
        return f"/{name} is an external link to {link.filename}:{link.path}"
    return None


def _foreign_data(name: str, obj: h5py.Group | h5py.Dataset):
    if not isinstance(obj, h5py.Dataset):
        return None
    if obj.is_virtual:
        return f"/{name} is a virtual dataset (its data is in other files)"
    if obj.external:
        where = os.fsdecode(obj.external[0][0])
        return f"/{name} keeps its data in {where} (HDF5 external storage)"
    return None


def _hdf5_length(path: Path, f: h5py.File) -> int:
    """Number of events, or a RecordingError saying what of the layout is missing."""
    if "events" not in f or not isinstance(f["events"], h5py.Group):
        raise RecordingError(
            path, "not a speck-hil recording: no /events group (expected /events/t, x, y, p)"
        )
    lengths = {}
    for name in EVENT_DTYPE.names:
        dset = f["events"].get(name)
        if not isinstance(dset, h5py.Dataset) or dset.ndim != 1:
            raise RecordingError(path, f"missing or malformed dataset /events/{name}")
        if dset.dtype.kind not in "iub":
            raise RecordingError(path, f"/events/{name} holds {dset.dtype}, expected integers")
        lengths[name] = dset.shape[0]
    if len(set(lengths.values())) != 1:
        raise RecordingError(path, f"event datasets differ in length: {lengths}")
    n = lengths["t"]
    stored = sum(f["events"][name].id.get_storage_size() for name in EVENT_DTYPE.names)
    if n * EVENT_DTYPE.itemsize > max(MAX_COMPRESSION * stored, 1 << 20):
        raise RecordingError(
            path,
            f"declares {n:,} events but stores only {stored:,} bytes of them (truncated, or "
            "crafted to make a reader allocate what is not there)",
        )
    return n


def _sensor_size_attr(path: Path, f: h5py.File) -> tuple[int, int, int]:
    if "sensor_size" not in f.attrs:
        raise RecordingError(path, "missing root attribute sensor_size")
    unit = plain_value(f.attrs.get("t_unit", "us"))
    if unit != "us":
        raise RecordingError(path, f"t_unit is {unit!r}; only 'us' is supported")
    try:
        return recording_sensor_size(np.asarray(f.attrs["sensor_size"]).tolist())
    except ValueError as exc:
        raise RecordingError(path, f"bad sensor_size attribute: {exc}") from None


def _read_hdf5_events(path: Path, sensor_size: tuple, lo: int, hi: int) -> np.ndarray:
    with _reading(path) as f:
        group = f["events"]
        if all(group[name].dtype == EVENT_DTYPE[name] for name in EVENT_DTYPE.names):
            events = np.empty(hi - lo, dtype=EVENT_DTYPE)
            for name in EVENT_DTYPE.names:
                events[name] = group[name][lo:hi]
            _checked(path, lambda: check_events(events, sensor_size, source=str(path)))
            return events
        raw = {name: group[name][lo:hi] for name in EVENT_DTYPE.names}
    table = np.empty(hi - lo, dtype=[(name, raw[name].dtype) for name in raw])
    for name, column in raw.items():
        table[name] = column
    return _checked(path, lambda: as_events(table, sensor_size, source=str(path)))


def _checked(path: Path, check: Callable):
    """Run a validation, turning event errors into recording errors for this file."""
    try:
        return check()
    except EventError as exc:
        raise RecordingError(path, str(exc).removeprefix(f"{path}: ")) from exc


def _window_bounds(path: Path, t0: int, t1: int, n: int) -> tuple[int, int, list[tuple[int, int]]]:
    """Event index range that surely covers ``[t0, t1)``, from /ms_to_idx when present, and
    the index rows it came from (row, event index) for the reader to check."""
    with _reading(path) as f:
        if "ms_to_idx" not in f:
            t = f["events/t"][:]
            lo, hi = np.searchsorted(t, [t0, t1], side="left")
            return int(lo), int(hi), []
        index = f["ms_to_idx"]
        rows = index.shape[0]
        first_ms = max(t0, 0) // 1000
        last_ms = -(-max(t1, 0) // 1000)
        lo = int(index[first_ms]) if first_ms < rows else n
        hi = int(index[last_ms]) if last_ms < rows else n
        used = [(row, at) for row, at in ((first_ms, lo), (last_ms, hi)) if row < rows]
        return lo, max(lo, hi), used


@contextmanager
def _reading(path: Path) -> Iterator[h5py.File]:
    """``h5py.File`` for reading, with low-level HDF5 failures reported against the file."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RecordingError(path, f"corrupt or truncated HDF5 file ({first_line(exc)})") from None
    try:
        with f:
            yield f
    except OSError as exc:
        raise RecordingError(path, f"corrupt or truncated HDF5 file ({first_line(exc)})") from None
