"""Opening any recording file: the format is told by its first bytes, never by its name.

Besides the native HDF5 layout, tonic's structured ``.npy`` and AEDAT4 (a DV camera's file,
decoded with the ``aedat`` package; its first event stream is read). Nothing but a regular
file is opened (a FIFO would block the reader forever).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hil.events import as_events, empty_events
from hil.files import unreadable_file
from hil.recordings.base import (
    Recording,
    RecordingError,
    first_line,
    rebased,
    recording_sensor_size,
)
from hil.recordings.hdf5 import _checked, _open_hdf5

_MAGIC = {
    b"\x89HDF\r\n\x1a\n": "hdf5",
    b"\x93NUMPY": "npy",
    b"#!AER-DAT4": "aedat4",
}


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


def _load_npy(path: Path, sensor_size: Sequence[int] | None) -> Recording:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RecordingError(path, f"corrupt or truncated .npy file ({first_line(exc)})") from None
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
    size = recording_sensor_size(sensor_size)
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
        raise RecordingError(
            path, f"corrupt or truncated AEDAT4 file ({first_line(exc)})"
        ) from None
    size = (int(streams[stream_id]["width"]), int(streams[stream_id]["height"]), 2)
    raw = np.concatenate(packets) if packets else empty_events()
    events = _checked(path, lambda: as_events(raw, size, source=str(path)))
    metadata = {"source_format": "aedat4", "stream_id": stream_id}
    events = rebased(events, metadata)
    return Recording(path, size, metadata, lambda: events)
