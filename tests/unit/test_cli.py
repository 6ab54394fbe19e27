import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hil import recordings
from hil.cli import main
from hil.recordings import synthetic

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_synth_info_convert_verify(tmp_path, capsys):
    target = tmp_path / "lib" / "bar.h5"
    code, out, _ = run(
        capsys,
        "recordings",
        "synth",
        "moving-bar",
        str(target),
        "--rate",
        "20000",
        "--duration",
        "0.5",
        "--size",
        "64x48",
        "--seed",
        "3",
        "--add-to-manifest",
        "a bar",
    )
    assert code == 0
    assert "moving-bar events" in out
    entry = recordings.read_manifest(tmp_path / "lib")["bar"]
    assert entry.description == "a bar"
    assert entry.sensor_size == (64, 48, 2)

    code, out, _ = run(capsys, "recordings", "info", str(target))
    assert code == 0
    for label in ("events", "duration", "sensor", "rate", "peak", "sha256", entry.sha256):
        assert label in out

    np.save(tmp_path / "bar.npy", recordings.load(target).events)
    code, out, _ = run(
        capsys,
        "recordings",
        "convert",
        str(tmp_path / "bar.npy"),
        str(tmp_path / "c.h5"),
        "--sensor-size",
        "64x48x2",
    )
    assert code == 0
    np.testing.assert_array_equal(
        recordings.load(tmp_path / "c.h5").events, recordings.load(target).events
    )

    code, out, _ = run(capsys, "recordings", "verify", "--dir", str(tmp_path / "lib"))
    assert code == 0
    assert "1 of 1 recordings verified" in out


def test_synth_burst_options(tmp_path, capsys):
    target = tmp_path / "b.h5"
    code, _, _ = run(
        capsys,
        "recordings",
        "synth",
        "burst",
        str(target),
        "--rate",
        "1000",
        "--burst-rate",
        "100000",
        "--burst-duration",
        "0.01",
    )
    assert code == 0
    expected = synthetic.burst(1000, 1.0, burst_rate=100_000, burst_duration_s=0.01)
    loaded = recordings.load(target)
    assert loaded.metadata["t_origin_us"] == expected["t"][0]
    expected["t"] -= expected["t"][0]
    np.testing.assert_array_equal(loaded.events, expected)


def _one_error_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("speck-hil: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in err


def test_info_bad_file_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "notes.h5"
    bad.write_text("not a recording")
    code, _, err = run(capsys, "recordings", "info", str(bad))
    assert code == 2
    _one_error_line(err, str(bad), "not a recording")


def test_info_reports_good_files_before_failing_on_a_bad_one(tmp_path, capsys):
    good = recordings.save(tmp_path / "good.h5", synthetic.poisson(1000, 0.1), (128, 128))
    bad = tmp_path / "trunc.h5"
    bad.write_bytes(good.read_bytes()[:600])
    code, out, err = run(capsys, "recordings", "info", str(bad), str(good))
    assert code == 2
    assert str(good) in out
    _one_error_line(err, str(bad), "truncated")


def test_convert_unsorted_file_exits_2(tmp_path, capsys):
    events = synthetic.poisson(1000, 0.1)
    np.save(tmp_path / "rec.npy", events[::-1])
    code, _, err = run(capsys, "recordings", "convert", str(tmp_path / "rec.npy"), "out.h5")
    assert code == 2
    _one_error_line(err, "rec.npy", "decrease")


def test_verify_names_a_changed_file(tmp_path, capsys):
    library = shutil.copytree(REPO / "recordings", tmp_path / "lib")
    with h5py.File(library / "burst_128.h5", "a") as f:
        f["events/x"][0] = 1 + f["events/x"][0] % 100
    code, out, err = run(capsys, "recordings", "verify", "--dir", str(library))
    assert code == 2
    assert "FAIL  burst_128" in out
    _one_error_line(err, "burst_128.h5", "sha256 mismatch")


def test_bad_size_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["recordings", "synth", "poisson", "x.h5", "--size", "12"])
    assert info.value.code == 2
    assert "WxH" in capsys.readouterr().err


def test_console_script_is_installed():
    result = subprocess.run(
        [Path(sys.executable).parent / "speck-hil", "recordings", "verify", "--dir", "recordings"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "recordings verified" in result.stdout


def test_pytest_plugin_is_registered():
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("hil") == "hil.plugin"


def test_synth_help_lists_its_kinds(capsys):
    with pytest.raises(SystemExit):
        main(["recordings", "synth", "--help"])
    assert "one of: burst, moving-bar, poisson" in capsys.readouterr().out


def test_info_keeps_labels_apart_from_values(tmp_path, capsys):
    np.save(tmp_path / "rec.npy", synthetic.poisson(1000, 0.1, size=(16, 16), seed=1))
    code, out, _ = run(capsys, "recordings", "info", str(tmp_path / "rec.npy"))
    assert code == 0
    rows = [line.split(maxsplit=1) for line in out.splitlines()[1:]]
    assert ["source_format", "npy"] in rows
    assert ["sensor_size_inferred", "True"] in rows
    starts = {
        line.index(value) for line, (_, value) in zip(out.splitlines()[1:], rows, strict=True)
    }
    assert len(starts) == 1  # every value starts in the same column
