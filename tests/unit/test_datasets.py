"""Labelled datasets and the manifest that holds them: label/split entries, the shipped digits
split, ``recordings add --label/--split/--replace``, and a writer that any name, description
or concurrent writer cannot break."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hil import cli, recordings
from hil.events import EVENT_DTYPE
from hil.recordings import folders as recording_folders
from hil.recordings.datasets import dataset

SHIPPED_DIGITS = recording_folders.SHIPPED / "digits"
REPO = Path(__file__).resolve().parents[2]


def _events(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.zeros(n, EVENT_DTYPE)
    events["t"] = np.sort(rng.integers(0, 10_000, n))
    events["x"], events["y"] = rng.integers(0, 8, n), rng.integers(0, 8, n)
    events["p"] = rng.integers(0, 2, n)
    return events


def _file(path: Path, seed: int = 0) -> Path:
    return recordings.save(path, _events(seed=seed), (8, 8, 2))


def test_the_shipped_digits_test_split(recording):
    digits = recording.dataset("digits", split="test")
    assert len(digits) == 200 and digits.classes == tuple(range(10))
    assert all(sum(s.label == c for s in digits) == 20 for c in range(10))
    assert [s.label for s in digits.per_class(1)] == sorted(
        {s.label for s in digits}, key=[s.label for s in digits].index
    )
    sample = digits.samples[0].load()
    assert sample.sensor_size == (20, 20, 2) and len(sample) > 500
    size = sum(f.stat().st_size for f in SHIPPED_DIGITS.iterdir())
    assert size <= 5_000_000


def test_an_unknown_split_or_dataset_is_refused_with_what_there_is():
    with pytest.raises(recordings.RecordingError, match=r"split 'train' \(splits here: test\)"):
        dataset("digits", split="train")
    with pytest.raises(recordings.RecordingError, match="no dataset named 'letters'"):
        dataset("letters")


def test_a_lab_builds_a_dataset_with_recordings_add(tmp_path):
    folder = tmp_path / "recordings" / "gestures"
    for index, label in enumerate(["wave", "clap", "wave"]):
        source = _file(tmp_path / f"take{index}.h5", seed=index)
        args = ["recordings", "add", str(source), "--dir", str(folder), "--label", label]
        assert cli.main([*args, "--split", "test"]) == 0
    assert cli.main(["recordings", "add", str(_file(tmp_path / "n.h5")), "--dir", str(folder)]) == 0
    gestures = dataset("gestures", split="test", folder=tmp_path / "recordings")
    assert [s.label for s in gestures] == ["wave", "clap", "wave"]  # the unlabelled one left out
    assert gestures.classes == ("clap", "wave") and gestures.class_index("wave") == 1
    numbered = tmp_path / "numbered"
    assert cli.main(["recordings", "add", str(_file(tmp_path / "d.h5")), "--dir",
                     str(numbered), "--label", "3"]) == 0  # fmt: skip
    assert recordings.read_manifest(numbered)["d"].label == 3


def test_add_refuses_an_existing_name_unless_replace_and_keeps_its_description(tmp_path, capsys):
    folder = tmp_path / "recordings"
    first, second = _file(tmp_path / "a.h5", 1), _file(tmp_path / "b.h5", 2)
    add = ["recordings", "add", "--dir", str(folder), "--name", "run"]
    assert cli.main([*add, str(first), "--description", "the first take"]) == 0
    assert cli.main([*add, str(second)]) == 2
    assert "already has run; give --replace" in capsys.readouterr().err
    assert recordings.read_manifest(folder)["run"].events == len(recordings.load(first))
    assert cli.main([*add, str(second), "--replace"]) == 0
    entry = recordings.read_manifest(folder)["run"]
    assert entry.sha256 == recordings.load(folder / "run.h5").sha256
    assert entry.description == "the first take"


def test_any_description_and_name_read_back_as_written(tmp_path):
    folder = tmp_path / "recordings"
    text = 'line one\nline "two" \\ with a backslash, and ünïcödé'
    recording_folders.add([_file(tmp_path / "x.h5")], folder, name="Lauf_ä", description=text)
    entry = recordings.read_manifest(folder)["Lauf_ä"]
    assert entry.description == text
    assert recordings.by_name("Lauf_ä", folder).sensor_size == (8, 8, 2)


@pytest.mark.parametrize("file_name", ["run.2.h5", "my run.h5"])
def test_synth_add_to_manifest_takes_a_file_name_with_a_dot_or_space(tmp_path, file_name):
    out = tmp_path / file_name
    args = ["recordings", "synth", "poisson", str(out), "--duration", "0.01", "--size", "8x8"]
    assert cli.main([*args, "--add-to-manifest", "a short one"]) == 0
    entries = recordings.read_manifest(tmp_path)
    assert list(entries) == [Path(file_name).stem]
    assert recordings.by_name(Path(file_name).stem, tmp_path).name == Path(file_name).stem


def test_a_bad_label_in_a_manifest_names_the_entry(tmp_path):
    recording_folders.add([_file(tmp_path / "x.h5")], tmp_path / "r")
    manifest = tmp_path / "r" / recordings.MANIFEST
    manifest.write_text(manifest.read_text() + "label = true\n")
    with pytest.raises(recordings.RecordingError, match="entry 'x': label must be"):
        recordings.read_manifest(tmp_path / "r")


#: One `recording_folders.add` in a process of its own (only what it needs is imported).
ADD_ONE = (
    "import sys; from hil.recordings import folders as f; "
    "f.add([sys.argv[1]], sys.argv[2], name=sys.argv[3])"
)


def test_four_adds_at_once_keep_all_four_entries(tmp_path):
    """Four processes read, change and write one manifest at once: each must see the others'
    entries (the lock), so none is lost."""
    folder = tmp_path / "recordings"
    sources = [_file(tmp_path / f"s{i}.h5", i) for i in range(4)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    adds = [
        subprocess.Popen(
            [sys.executable, "-c", ADD_ONE, str(source), str(folder), f"take{i}"], env=env
        )
        for i, source in enumerate(sources)
    ]
    assert [add.wait(timeout=120) for add in adds] == [0] * 4
    assert sorted(recordings.read_manifest(folder)) == [f"take{i}" for i in range(4)]
