"""A folder's ``manifest.toml``: the recordings it names, each checked against its file.

Every entry gives file, sensor size, duration, event count, sha256 and a one-line description;
``by_name`` refuses a file whose bytes no longer match.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

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
    return write_atomic(directory / MANIFEST, "\n".join(lines))


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
