"""Labelled datasets: folders of recordings whose manifest entries carry ``label`` and ``split``.

A dataset called NAME is the folder NAME inside a recordings folder (the lab's first, then the
examples shipped with speck-hil), with its own ``manifest.toml``; ``speck-hil recordings add
--dir recordings/NAME --label L --split S FILE`` adds a sample. Labels are the class's output
channel (0, 1, ...) or class names; named classes are numbered in sorted order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hil import recordings
from hil.recordings import folders
from hil.recordings.base import Recording, RecordingError
from hil.recordings.manifest import ManifestEntry


@dataclass(frozen=True)
class Sample:
    """One labelled recording of a dataset; ``load()`` reads it (sha256-checked when it comes
    from a manifest entry)."""

    name: str
    label: int | str
    entry: ManifestEntry | None = None
    recording: Recording | None = None  # an in-memory sample (``Dataset.of``)

    @classmethod
    def listed(cls, entry: ManifestEntry) -> Sample:
        return cls(entry.name, entry.label, entry=entry)

    def load(self) -> Recording:
        if self.recording is not None:
            return self.recording
        return recordings.verify_entry(self.entry)

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        return self.entry.sensor_size if self.entry else self.recording.sensor_size


@dataclass(frozen=True)
class Dataset:
    """The labelled samples of one split of a dataset, in manifest (name) order."""

    name: str
    split: str | None
    folder: Path | None
    samples: tuple[Sample, ...]

    @classmethod
    def of(cls, name: str, labelled: Iterable[tuple[Recording, int | str]]) -> Dataset:
        """A dataset of in-memory recordings (a test's own stimuli) with their labels."""
        samples = tuple(
            Sample(recording.name or f"{name}_{index}", label, recording=recording)
            for index, (recording, label) in enumerate(labelled)
        )
        return cls(name, None, None, samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    @property
    def classes(self) -> tuple[int | str, ...]:
        """Every label, sorted: numbers are output channels, names are numbered in this order."""
        return tuple(sorted({sample.label for sample in self.samples}))

    def class_index(self, label: int | str) -> int:
        """The output channel that answers ``label``."""
        return label if isinstance(label, int) else self.classes.index(label)

    @property
    def n_classes(self) -> int:
        labels = self.classes
        return max(labels) + 1 if labels and isinstance(labels[0], int) else len(labels)

    def per_class(self, count: int) -> Dataset:
        """The first ``count`` samples of each class: a small balanced subset, the same on
        every machine (for a quick test; the whole split for a figure worth quoting)."""
        taken: dict[int | str, int] = {}
        kept = []
        for sample in self.samples:
            if taken.get(sample.label, 0) < count:
                taken[sample.label] = taken.get(sample.label, 0) + 1
                kept.append(sample)
        return Dataset(self.name, self.split, self.folder, tuple(kept))

    def describe(self) -> str:
        split = f" split {self.split!r}" if self.split else ""
        return f"dataset {self.name!r}{split} ({len(self)} samples, {len(self.classes)} classes)"


def dataset(
    name: str, split: str | None = None, folder: str | os.PathLike | None = None
) -> Dataset:
    """The labelled samples of dataset ``name`` (of ``split``, when given): looked up as the
    folder ``name`` in the lab's recordings ``folder``, then among the shipped examples."""
    searched = []
    places = folders.search_path(folder)
    if folder is not None and Path(folder).is_dir() and Path(folder) not in places:
        places.insert(0, Path(folder))  # a folder of datasets needs no manifest of its own
    for directory in places:
        candidate = directory / name
        searched.append(str(candidate))
        if (candidate / recordings.MANIFEST).is_file():
            return _labelled(name, split, candidate)
    raise RecordingError(
        Path(folder or folders.SHIPPED) / name,
        f"no dataset named {name!r} (looked for a manifest in {', '.join(searched)})",
    )


def _labelled(name: str, split: str | None, folder: Path) -> Dataset:
    entries = recordings.read_manifest(folder)
    labelled = [entry for entry in entries.values() if entry.label is not None]
    if not labelled:
        raise RecordingError(folder / recordings.MANIFEST, "no entry has a label")
    kinds = {type(entry.label) for entry in labelled}
    if len(kinds) > 1:
        raise RecordingError(
            folder / recordings.MANIFEST,
            "labels mix numbers and names; use class numbers (output channels) or names only",
        )
    chosen = [entry for entry in labelled if split is None or entry.split == split]
    if not chosen:
        splits = sorted({str(entry.split) for entry in labelled})
        raise RecordingError(
            folder / recordings.MANIFEST,
            f"no labelled entry in split {split!r} (splits here: {', '.join(splits)})",
        )
    samples = tuple(Sample.listed(entry) for entry in sorted(chosen, key=lambda e: e.name))
    return Dataset(name, split, folder, samples)
