"""``speck-hil init`` and ``speck-hil recordings add``: a lab's own suite and recordings,
outside this repository, run from any folder."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pytest_outside import run_pytest

from hil import recordings
from hil.cli import main
from hil.cli.init import template_files
from hil.recordings import folders as recording_folders
from hil.recordings import synthetic

SPECK_HIL = Path(sys.executable).parent / "speck-hil"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_init_add_and_run_the_suite_from_another_folder(tmp_path):
    """The lab's first day: a suite, a recording of its own, a run from elsewhere (cron)."""
    suite, elsewhere = tmp_path / "lab" / "suite", tmp_path / "cron"
    elsewhere.mkdir()
    subprocess.run([SPECK_HIL, "init", suite], check=True, cwd=elsewhere, timeout=60)
    own = tmp_path / "desk" / "mnist_like.npy"
    own.parent.mkdir()
    np.save(own, synthetic.poisson(5000, 0.2, size=(34, 34), seed=5))
    subprocess.run(
        [SPECK_HIL, "recordings", "add", own, "--name", "desk_poisson", "--description", "mine"],
        check=True,
        cwd=suite,
        timeout=60,
    )
    output = run_pytest(suite, cwd=elsewhere)
    assert "2 passed" in output, output
    assert f"speck-hil: recordings {suite / 'recordings'}, then the shipped examples" in output
    record = json.loads((suite / "hil-report.json").read_text())
    names = {m["name"] for t in record["tests"] for m in t["measurements"]}
    assert "desk_poisson.events_in" in names  # the lab's own recording was replayed
    for check in ("lint_errors", "delay_max", "synops_peak", "cosine", "reset_mode_matches"):
        assert any(name.endswith(check) for name in names), check  # every check ran
    assert not (elsewhere / "hil-report.json").exists()
    assert (suite / "hil-artifacts").is_dir()


def test_init_writes_every_template_and_refuses_to_overwrite(tmp_path, capsys):
    code, out, _ = run(capsys, "init", tmp_path / "suite")
    assert code == 0
    for name in template_files():
        assert (tmp_path / "suite" / name).is_file(), name
        assert f"wrote {tmp_path / 'suite' / name}" in out
    assert {"pytest.ini", "test_example.py", "README.md", "recordings/manifest.toml"} <= set(
        template_files()
    )
    assert recordings.read_manifest(tmp_path / "suite" / "recordings") == {}
    (tmp_path / "suite" / "test_example.py").write_text("# mine\n")
    code, _, err = run(capsys, "init", tmp_path / "suite")
    assert code == 2
    assert "already has" in err and "test_example.py" in err and len(err.splitlines()) == 1
    assert (tmp_path / "suite" / "test_example.py").read_text() == "# mine\n"


def test_the_ini_names_every_harness_option():
    from hil.plugin.options import OPTIONS

    ini = template_files()["pytest.ini"].decode()
    for opt in OPTIONS.values():
        assert opt.ini in ini, opt.ini


def _npy(path: Path, seed: int, size=(34, 34)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, synthetic.poisson(2000, 0.1, size=size, seed=seed))
    return path


def test_recordings_add_converts_and_writes_the_manifest_entry(tmp_path, capsys):
    first, second = _npy(tmp_path / "in" / "a.npy", 1), _npy(tmp_path / "in" / "b.npy", 2)
    folder = tmp_path / "recs"
    code, out, _ = run(capsys, "recordings", "add", first, second, "--dir", folder,
                       "--description", "two of mine")  # fmt: skip
    assert code == 0
    entries = recordings.read_manifest(folder)
    assert set(entries) == {"a", "b"}
    for name, source in (("a", first), ("b", second)):
        entry = entries[name]
        assert entry.file == folder / f"{name}.h5"
        assert entry.sha256 == recordings.file_sha256(entry.file)
        events = np.load(source)
        assert entry.events == len(events)
        assert entry.duration_us == int(events["t"][-1] - events["t"][0])
        assert entry.sensor_size == (34, 34, 2)
        assert entry.description == "two of mine"
        assert f"{name!r} added" in out
        assert recording_folders.by_name(name, folder).sensor_size == (34, 34, 2)
    code, _, _ = run(capsys, "recordings", "verify", "--dir", folder)
    assert code == 0
    # adding to an existing manifest keeps its entries; --name renames
    third = _npy(tmp_path / "in" / "c.npy", 3, size=(20, 10))
    assert run(capsys, "recordings", "add", third, "--dir", folder, "--name", "wide")[0] == 0
    assert set(recordings.read_manifest(folder)) == {"a", "b", "wide"}
    assert recordings.read_manifest(folder)["wide"].sensor_size == (20, 10, 2)


def test_recordings_add_writes_nothing_when_one_file_is_bad(tmp_path, capsys):
    good = _npy(tmp_path / "good.npy", 1)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    code, _, err = run(capsys, "recordings", "add", good, bad, "--dir", tmp_path / "recs")
    assert code == 2
    assert str(bad) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "recs").exists()


def test_recordings_add_name_is_for_one_file(tmp_path, capsys):
    files = [_npy(tmp_path / "a.npy", 1), _npy(tmp_path / "b.npy", 2)]
    code, _, err = run(capsys, "recordings", "add", *files, "--name", "x", "--dir", tmp_path)
    assert code == 2
    assert "--name names one recording" in err


def test_names_fall_back_to_the_shipped_examples(tmp_path):
    folder = tmp_path / "recs"
    recording_folders.add([_npy(tmp_path / "mine.npy", 1)], folder)
    assert recording_folders.by_name("mine", folder).path == folder / "mine.h5"
    shipped = recording_folders.by_name("poisson_34", folder)
    assert shipped.path.parent == recording_folders.SHIPPED
    assert len(recording_folders.by_name("burst_128", tmp_path / "nowhere")) > 0
    with pytest.raises(recordings.RecordingError, match=r"no recording named 'nope'.*mine"):
        recording_folders.by_name("nope", folder)
