"""A folder's ``manifest.toml``: the recordings it names, each checked against its file.

Every entry gives file, sensor size, duration, event count, sha256 and a one-line description;
``by_name`` refuses a file whose bytes no longer match.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tomli_w
from filelock import FileLock, Timeout

from hil.files import unreadable_file, write_atomic
from hil.recordings.base import Recording, RecordingError, first_line, recording_sensor_size
from hil.recordings.formats import load

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST = "manifest.toml"
RECORDINGS_ENV = "HIL_RECORDINGS"


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    file: Path
    sensor_size: tuple[int, int, int]
    duration_us: int
    events: int
    sha256: str
    description: str
    label: str | int | None = None  # the class of a labelled dataset's sample
    split: str | None = None  # which part of a dataset: "train", "test", ...


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
        raise bad(f"file {file!r} cannot be followed: {first_line(exc)}") from None
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
    label = raw.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, str | int)):
        raise bad(f"label must be a class name or number, not {label!r}")
    split = raw.get("split")
    if split is not None and (not isinstance(split, str) or not split):
        raise bad(f"split must be a name such as 'test', not {split!r}")
    sensor_size = raw["sensor_size"]
    try:
        if not isinstance(sensor_size, list) or any(
            isinstance(v, bool) or not isinstance(v, int) for v in sensor_size
        ):
            raise ValueError(f"expected [W, H, P] as whole numbers, got {sensor_size!r}")
        size = recording_sensor_size(sensor_size)
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
        label=label,
        split=split,
    )


MANIFEST_HEADER = "# Written by speck-hil: `speck-hil recordings add` writes it.\n\n"
#: How long a writer waits for another process's manifest update to finish.
MANIFEST_LOCK_TIMEOUT_S = 60.0


def write_manifest(directory: str | os.PathLike, entries: dict[str, ManifestEntry]) -> Path:
    """Rewrite the manifest (sorted by name) atomically. TOML is written by tomli-w, so any
    name or description (quotes, newlines, non-ASCII) reads back as it was written. Callers
    that read, change and write the manifest hold ``manifest_update`` instead."""
    directory = Path(directory)
    table = {name: _entry_table(directory, entries[name]) for name in sorted(entries)}
    return write_atomic(
        directory / MANIFEST, MANIFEST_HEADER + tomli_w.dumps({"recordings": table})
    )


@contextmanager
def manifest_update(directory: str | os.PathLike) -> Iterator[dict[str, ManifestEntry]]:
    """The folder's manifest entries (none when it has no manifest yet) to change in place,
    written back when the block ends. A lock file beside the manifest keeps two writers (two
    `speck-hil recordings add` at once) from losing each other's entries."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / f".{MANIFEST}.lock", timeout=MANIFEST_LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise RecordingError(
            directory / MANIFEST,
            f"another process has held the manifest's lock for {MANIFEST_LOCK_TIMEOUT_S:g} s",
        ) from None
    try:
        entries = read_manifest(directory) if (directory / MANIFEST).exists() else {}
        yield entries
        write_manifest(directory, entries)
    finally:
        lock.release()


def _entry_table(directory: Path, entry: ManifestEntry) -> dict:
    table = {
        "file": entry.file.relative_to(directory).as_posix(),
        "sensor_size": list(entry.sensor_size),
        "duration_us": entry.duration_us,
        "events": entry.events,
        "sha256": entry.sha256,
        "description": entry.description,
    }
    if entry.label is not None:
        table["label"] = entry.label
    if entry.split is not None:
        table["split"] = entry.split
    return table


def manifest_entry(
    name: str,
    path: Path,
    description: str,
    label: str | int | None = None,
    split: str | None = None,
) -> ManifestEntry:
    recording = load(path)
    return ManifestEntry(
        name=name,
        file=path,
        sensor_size=recording.sensor_size,
        duration_us=recording.duration_us,
        events=len(recording),
        sha256=recording.sha256,
        description=description,
        label=label,
        split=split,
    )


def add_to_manifest(path: str | os.PathLike, description: str, name: str | None = None) -> Path:
    """Add (or refresh) the entry for the recording at ``path`` in its folder's manifest."""
    path = Path(path)
    name = name or path.stem
    entry = manifest_entry(name, path, description)
    with manifest_update(path.parent) as entries:
        entries[name] = entry
    return path.parent / MANIFEST


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
