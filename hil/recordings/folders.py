"""Where a suite's recordings are: the lab's own folder first, then the examples shipped inside
speck-hil, so ``recording("poisson_34")`` works in any lab suite without copying files.

Adding a lab's file (any format ``hil.recordings.load`` reads) converts it to the native HDF5
layout inside the folder and writes its manifest entry, so nobody types a sha256 by hand.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hil import recordings

#: The example recordings that ship inside the package (package data).
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "recordings"


def search_path(folder: str | os.PathLike | None) -> list[Path]:
    """The folders a name is looked up in, in order: ``folder`` (if it has a manifest), then
    the shipped examples."""
    folders = []
    if folder is not None and (Path(folder) / recordings.MANIFEST).is_file():
        folders.append(Path(folder))
    if not any(_same(f, SHIPPED) for f in folders):
        folders.append(SHIPPED)
    return folders


def by_name(name: str, folder: str | os.PathLike | None = None) -> recordings.Recording:
    """The recording called ``name`` in the lab's ``folder``, else among the shipped examples;
    sha256-checked either way."""
    known: list[str] = []
    for directory in search_path(folder):
        entries = recordings.read_manifest(directory)
        if name in entries:
            return recordings.verify_entry(entries[name])
        known += [n for n in entries if n not in known]
    where = f"{folder} or the shipped examples" if folder is not None else "the shipped examples"
    raise recordings.RecordingError(
        Path(folder or SHIPPED) / recordings.MANIFEST,
        f"no recording named {name!r} in {where} (known: {', '.join(sorted(known)) or 'none'}); "
        "`speck-hil recordings add FILE` adds one",
    )


def resolve(
    name_or_path: str | os.PathLike, folder: str | os.PathLike | None, **load_options
) -> recordings.Recording:
    """A recording by path (anything with a folder separator or a suffix; ``load_options`` go
    to ``recordings.load``) or by manifest name (looked up as ``by_name`` does): the one rule
    the fixture and the command line share."""
    text = os.fspath(name_or_path)
    if os.sep in text or "/" in text or Path(text).suffix:
        return recordings.load(text, **load_options)
    return by_name(text, folder)


def folder_problem(folder: str | os.PathLike) -> str | None:
    """What is wrong with ``folder`` as a recordings folder someone named, or None."""
    folder = Path(folder)
    if not folder.exists():
        return "no such folder"
    if not folder.is_dir():
        return "is not a folder"
    return None


def check_environment_folder() -> Path:
    """``$HIL_RECORDINGS``, refused when it names no folder: a name would otherwise be looked
    up among the shipped examples only, and a lab's own recordings silently missed."""
    folder = Path(os.environ[recordings.RECORDINGS_ENV])
    problem = folder_problem(folder)
    if problem:
        raise ValueError(f"{recordings.RECORDINGS_ENV} {folder}: {problem}")
    return folder


def describe(folder: Path) -> str:
    """One line for a session header: which folder names are looked up in."""
    if _same(folder, SHIPPED):
        return f"{folder} (the shipped examples)"
    if (folder / recordings.MANIFEST).is_file():
        return f"{folder}, then the shipped examples"
    return f"{folder} (no {recordings.MANIFEST} there: only the shipped examples)"


def add(
    files: Sequence[str | os.PathLike],
    folder: str | os.PathLike,
    name: str | None = None,
    description: str | None = None,
    label: str | int | None = None,
    split: str | None = None,
    replace: bool = False,
) -> list[recordings.ManifestEntry]:
    """Convert each file into ``folder`` as ``NAME.h5`` and write its manifest entry, with
    ``label`` and ``split`` for a labelled dataset's samples.

    Every file is read (and so validated) before anything is written, so one bad file leaves
    the folder as it was. ``name`` is for a single file; otherwise each keeps its stem. A
    name already in the manifest is refused unless ``replace``; a replaced entry keeps its
    description unless a new one is given.
    """
    if name is not None and len(files) != 1:
        raise ValueError(f"--name names one recording, but {len(files)} files were given")
    folder = Path(folder)
    loaded = [recordings.load(path) for path in files]
    for recording in loaded:
        recording.events  # noqa: B018 (reads and validates now, before anything is written)
    names = [name] if name is not None else [Path(p).stem for p in files]
    for new in names:
        if not new.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"recording name {new!r}: use letters, digits, '_' and '-' only")
    if len(set(names)) != len(names):
        raise ValueError(f"two files would share a name: {', '.join(sorted(names))}")
    if label is not None and (isinstance(label, bool) or not isinstance(label, str | int)):
        raise ValueError(f"--label {label!r}: give a class number or name")
    if isinstance(label, str) and not label.strip():
        raise ValueError("--label is empty: give a class number or name")
    if split is not None and not split.strip():
        raise ValueError("--split is empty: give a split name such as test")
    added = []
    with recordings.manifest_update(folder) as entries:
        taken = [new for new in names if new in entries]
        if taken and not replace:
            raise ValueError(
                f"{folder / recordings.MANIFEST} already has {', '.join(taken)}; "
                "give --replace to replace, or --name for another name"
            )
        for new, source, recording in zip(names, files, loaded, strict=True):
            kept = entries[new].description if new in entries else ""
            text = kept if description is None else description
            target = folder / f"{new}.h5"
            metadata = {
                k: v
                for k, v in recording.metadata.items()
                if isinstance(v, (str, int, float, bool)) and k not in ("description",)
            }
            metadata.setdefault("source", Path(source).name)
            if text:
                metadata["description"] = text
            recordings.save(target, recording.events, recording.sensor_size, **metadata)
            entries[new] = recordings.manifest_entry(new, target, text, label, split)
            added.append(entries[new])
    return added


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
