"""Event recordings on disk: the native HDF5 layout, tonic's ``.npy``, AEDAT4, and the manifest.

Native layout (one file per recording)::

    /events/t, /events/x, /events/y, /events/p   chunked, gzip + shuffle (built into libhdf5)
    /ms_to_idx                                   row i = index of the first event with t >= i ms
    attrs: format, format_version, sensor_size, t_unit = "us", t_origin_us, and free metadata

``/ms_to_idx`` lets ``Recording.window`` read only the chunks a time window covers; it is
checked when the file is opened, and left out where it would outweigh the events (a long gap).

Inside the harness a recording's time starts at its first event: a camera's Unix-epoch
timestamps become µs since the recording began, and the absolute time of the first event is
kept as ``metadata["t_origin_us"]`` (the ``t_origin_us`` attribute of a native file).
Every reader turns a bad file into a ``RecordingError`` that names the file and the problem;
nothing but a regular file is opened (a FIFO would block the reader forever).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from hil.bounds import check_array_size
from hil.events import EVENT_DTYPE, EventError, as_events, check_events, sensor_size_tuple
from hil.files import unreadable_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMAT = "speck-hil-recording"
FORMAT_VERSION = 1
CHUNK_EVENTS = 1 << 16
MANIFEST = "manifest.toml"
RECORDINGS_ENV = "HIL_RECORDINGS"
_RESERVED_ATTRS = {"format", "format_version", "sensor_size", "t_unit", "t_origin_us"}
ORIGIN_KEY = "t_origin_us"
#: The most an event file's stored bytes may expand when read: deflate cannot exceed 1032x (real
#: events give 2-10x); a file declaring more events than that is refused before anything is
#: allocated for them.
MAX_COMPRESSION = 1100
#: The ms index is written only while it has at most this many rows, or fewer than two per
#: event: a 10-hour gap in a few events would otherwise write a 288 MB index for 1 kB of events.
INDEX_FREE_ROWS = 1 << 20
_MAGIC = {
    b"\x89HDF\r\n\x1a\n": "hdf5",
    b"\x93NUMPY": "npy",
    b"#!AER-DAT4": "aedat4",
}


class RecordingError(ValueError):
    """A recording that cannot be read, or that no longer matches its manifest entry."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    file: Path
    sensor_size: tuple[int, int, int]
    duration_us: int
    events: int
    sha256: str
    description: str


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
        size = _sensor_size_3(sensor_size)
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
    size = _sensor_size_3(sensor_size)
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


@contextmanager
def atomic_hdf5(path: Path, **attrs) -> Iterator[h5py.File]:
    """An HDF5 file to write that appears at ``path`` only when complete: written beside it
    under a temporary name, then renamed. A crash leaves no half file behind. ``attrs`` that
    are not None become root attributes, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from the rest of the lab
    os.close(fd)
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            for key, value in attrs.items():
                if value is not None:
                    f.attrs[key] = value
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def load(path: str | os.PathLike, sensor_size: Sequence[int] | None = None) -> Recording:
    """Open a recording: native HDF5, a structured ``.npy`` (tonic's layout), or AEDAT4.

    ``sensor_size`` is needed only for ``.npy`` files that do not carry one; without it the
    size is taken from the largest coordinates and ``metadata["sensor_size_inferred"]`` is set.
    """
    path = Path(path)
    kind = _sniff(path)
    if kind == "hdf5":
        return _open_hdf5(path)
    if kind == "npy":
        return _load_npy(path, sensor_size)
    return _load_aedat4(path)


def _sniff(path: Path) -> str:
    problem = unreadable_file(path)
    if problem:
        raise RecordingError(path, problem)
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise RecordingError(path, "no such file") from None
    except IsADirectoryError:
        raise RecordingError(path, "is a directory, not a recording") from None
    except OSError as exc:
        raise RecordingError(path, f"cannot read ({exc.strerror})") from None
    if not head:
        raise RecordingError(path, "empty file (0 bytes)")
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    raise RecordingError(
        path, "not a recording: unrecognised format (expected HDF5, .npy or AEDAT4)"
    )


def _open_hdf5(path: Path) -> Recording:
    with _reading(path) as f:
        n = _hdf5_length(path, f)
        sensor_size = _sensor_size_attr(path, f)
        metadata = {
            key: _plain(value) for key, value in f.attrs.items() if key not in _RESERVED_ATTRS
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
    value = _plain(f.attrs.get(ORIGIN_KEY, 0))
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
    unit = _plain(f.attrs.get("t_unit", "us"))
    if unit != "us":
        raise RecordingError(path, f"t_unit is {unit!r}; only 'us' is supported")
    try:
        return _sensor_size_3(np.asarray(f.attrs["sensor_size"]).tolist())
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
        raise RecordingError(path, f"corrupt or truncated HDF5 file ({_short(exc)})") from None
    try:
        with f:
            yield f
    except OSError as exc:
        raise RecordingError(path, f"corrupt or truncated HDF5 file ({_short(exc)})") from None


def _load_npy(path: Path, sensor_size: Sequence[int] | None) -> Recording:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RecordingError(path, f"corrupt or truncated .npy file ({_short(exc)})") from None
    if array.dtype.names is None:
        raise RecordingError(
            path, f"not an event array: dtype {array.dtype} has no fields t, x, y, p"
        )
    metadata: dict = {"source_format": "npy"}
    events = _checked(path, lambda: as_events(array, sensor_size, source=str(path)))
    events = rebased(events, metadata)
    if sensor_size is None:
        metadata["sensor_size_inferred"] = True
        sensor_size = _inferred_size(events)
    size = _sensor_size_3(sensor_size)
    return Recording(path, size, metadata, lambda: events)


def _inferred_size(events: np.ndarray) -> tuple[int, int, int]:
    if len(events) == 0:
        return (1, 1, 1)
    return (int(events["x"].max()) + 1, int(events["y"].max()) + 1, int(events["p"].max()) + 1)


def _load_aedat4(path: Path) -> Recording:
    import aedat

    try:
        decoder = aedat.Decoder(str(path))
        streams = {sid: s for sid, s in decoder.id_to_stream().items() if s.get("type") == "events"}
        if not streams:
            raise RecordingError(path, "AEDAT4 file has no event stream")
        stream_id = min(streams)
        packets = [p["events"] for p in decoder if p["stream_id"] == stream_id and "events" in p]
    except (RecordingError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # RuntimeError for a short file, a Rust panic for garbage
        raise RecordingError(path, f"corrupt or truncated AEDAT4 file ({_short(exc)})") from None
    size = (int(streams[stream_id]["width"]), int(streams[stream_id]["height"]), 2)
    raw = np.concatenate(packets) if packets else np.zeros(0, dtype=EVENT_DTYPE)
    events = _checked(path, lambda: as_events(raw, size, source=str(path)))
    metadata = {"source_format": "aedat4", "stream_id": stream_id}
    events = rebased(events, metadata)
    return Recording(path, size, metadata, lambda: events)


def _sensor_size_3(sensor_size: Sequence[int]) -> tuple[int, int, int]:
    """A recording's sensor size always has a polarity count: two unless given."""
    size = sensor_size_tuple(sensor_size)
    return size if len(size) == 3 else (*size, 2)


def _plain(value):
    """HDF5 attribute values as plain Python values."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --- the manifest ------------------------------------------------------------------------


def recordings_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory``, else ``$HIL_RECORDINGS``, else ``./recordings``."""
    return Path(directory or os.environ.get(RECORDINGS_ENV) or "recordings")


def read_manifest(directory: str | os.PathLike | None = None) -> dict[str, ManifestEntry]:
    """The manifest's entries, each checked for the kind of its fields; files are not read."""
    directory = recordings_dir(directory)
    path = directory / MANIFEST
    problem = unreadable_file(path)
    if problem == "no such file" and not directory.is_dir():
        raise RecordingError(
            directory, "no such folder" if not directory.exists() else "is not a folder"
        )
    if problem == "no such file":
        raise RecordingError(path, "no manifest here (see `speck-hil recordings --help`)")
    if problem:
        raise RecordingError(path, problem)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except UnicodeDecodeError as exc:
        raise RecordingError(
            path, f"not a text (UTF-8) file: byte {exc.start} is invalid"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RecordingError(path, f"manifest is not valid TOML: {exc}") from None
    table = data.get("recordings", {})
    if not isinstance(table, dict):
        raise RecordingError(path, "'recordings' must be a table of [recordings.NAME] entries")
    return {name: _manifest_entry(path, directory, name, raw) for name, raw in table.items()}


def _manifest_entry(path: Path, directory: Path, name: str, raw: object) -> ManifestEntry:
    def bad(problem: str) -> RecordingError:
        return RecordingError(path, f"entry {name!r}: {problem}")

    if not isinstance(raw, dict):
        raise bad("must be a table with file, sensor_size, duration_us, events and sha256")
    missing = [
        k for k in ("file", "sensor_size", "duration_us", "events", "sha256") if k not in raw
    ]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    file = raw["file"]
    if not isinstance(file, str) or not file:
        raise bad(f"file must be a path, not {file!r}")
    relative = Path(file)
    if relative.is_absolute() or ".." in relative.parts:
        raise bad(f"file {file!r} is outside the manifest's folder; entries must stay inside it")
    try:
        target = (directory / relative).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise bad(f"file {file!r} cannot be followed: {_short(exc)}") from None
    if not target.is_relative_to(directory.resolve()):
        raise bad(
            f"file {file!r} is a link to {target}, outside the manifest's folder; "
            "entries must stay inside it (copy the file in, or `speck-hil recordings add` it)"
        )
    for key in ("duration_us", "events"):
        if isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] < 0:
            raise bad(f"{key} must be a whole number ≥ 0, not {raw[key]!r}")
    digest = raw["sha256"]
    if not (
        isinstance(digest, str) and len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    ):
        raise bad(f"sha256 must be 64 lowercase hex digits, not {digest!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise bad(f"description must be a string, not {description!r}")
    sensor_size = raw["sensor_size"]
    try:
        if not isinstance(sensor_size, list) or any(
            isinstance(v, bool) or not isinstance(v, int) for v in sensor_size
        ):
            raise ValueError(f"expected [W, H, P] as whole numbers, got {sensor_size!r}")
        size = _sensor_size_3(sensor_size)
    except ValueError as exc:
        raise bad(f"sensor_size: {exc}") from None
    return ManifestEntry(
        name=name,
        file=directory / relative,
        sensor_size=size,
        duration_us=raw["duration_us"],
        events=raw["events"],
        sha256=digest,
        description=description,
    )


def write_manifest(directory: str | os.PathLike, entries: dict[str, ManifestEntry]) -> Path:
    """Rewrite the manifest (sorted by name) atomically."""
    directory = Path(directory)
    lines = ["# Written by `speck-hil recordings synth ... --add-to-manifest`.", ""]
    for name in sorted(entries):
        e = entries[name]
        lines += [
            f"[recordings.{name}]",
            f'file = "{e.file.relative_to(directory).as_posix()}"',
            f"sensor_size = [{', '.join(str(s) for s in e.sensor_size)}]",
            f"duration_us = {e.duration_us}",
            f"events = {e.events}",
            f'sha256 = "{e.sha256}"',
            f"description = {_toml_string(e.description)}",
            "",
        ]
    path = directory / MANIFEST
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
    return path


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest_entry(name: str, path: Path, description: str) -> ManifestEntry:
    recording = load(path)
    return ManifestEntry(
        name=name,
        file=path,
        sensor_size=recording.sensor_size,
        duration_us=recording.duration_us,
        events=len(recording),
        sha256=recording.sha256,
        description=description,
    )


def add_to_manifest(path: str | os.PathLike, description: str, name: str | None = None) -> Path:
    """Add (or refresh) the entry for the recording at ``path`` in its folder's manifest."""
    path = Path(path)
    directory = path.parent
    try:
        entries = read_manifest(directory)
    except RecordingError:
        if (directory / MANIFEST).exists():
            raise
        entries = {}
    name = name or path.stem
    entries[name] = manifest_entry(name, path, description)
    return write_manifest(directory, entries)


def by_name(name: str, directory: str | os.PathLike | None = None) -> Recording:
    """Load a recording through the manifest, refusing one whose file changed."""
    entries = read_manifest(directory)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise RecordingError(
            recordings_dir(directory) / MANIFEST, f"no recording named {name!r} (known: {known})"
        )
    return verify_entry(entries[name])


def verify_entry(entry: ManifestEntry) -> Recording:
    """Load an entry's file and check every field of the manifest against it."""
    problem = unreadable_file(entry.file)
    if problem == "no such file":
        raise RecordingError(entry.file, f"listed in the manifest as {entry.name!r} but missing")
    recording = load(entry.file)
    if recording.sha256 != entry.sha256:
        raise RecordingError(
            entry.file,
            f"sha256 mismatch: manifest says {entry.sha256[:12]}…, file is "
            f"{recording.sha256[:12]}… (the file changed since the manifest was written)",
        )
    found = {
        "events": len(recording),
        "sensor_size": recording.sensor_size,
        "duration_us": recording.duration_us,
    }
    for key, value in found.items():
        listed = getattr(entry, key)
        if value != listed:
            raise RecordingError(
                entry.file, f"{key} is {_listed(value)}; the manifest says {_listed(listed)}"
            )
    return recording


def _listed(value: object) -> str:
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
