"""``speck-hil calibrate`` on the command line, and what a verdict says it rests on."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hil import recordings
from hil.analysis.checks import HilMeasure
from hil.backends import open_device
from hil.chip.profile import load_profile
from hil.cli import calibrate as cli_calibrate
from hil.cli import main
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.plugin.session import session_of
from hil.plugin.terminal import TerminalLines

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def lab_profile(tmp_path_factory):
    """A calibration of cores 0 and 8 on the default emulated chip, through the CLI."""
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    path = tmp_path_factory.mktemp("lab") / "lab.toml"
    assert main(["calibrate", "--device", "sim", "--out", str(path), "--cores", "0,8"]) == 0
    return path


def test_writes_a_profile_pictures_and_reports_progress(lab_profile, capsys):
    profile = load_profile("speck2f", override=lab_profile)
    assert profile.calibration.cores == (0, 8)
    assert profile.synops_per_s[0] == pytest.approx(5e7, rel=0.05)
    for core in (0, 8):
        assert (lab_profile.parent / "lab-pictures" / f"core{core}.png").stat().st_size > 1000


def test_progress_and_summary_on_the_terminal(tmp_path, capsys):
    out = tmp_path / "one.toml"
    assert main(["calibrate", "--out", str(out), "--cores", "5", "--pictures", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "core 5  step  0  bracket  offered" in text
    assert "grows" in text and "flat" in text
    assert "on a real devkit about" in text
    assert (tmp_path / "core5.png").exists()


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--cores", "0,9"], "unknown core 9: speck2f has cores 0..8"),
        (["--device", "sinabs"], "time-stepped device has no time"),
        (["--step", "0"], "--step 0.0: must be positive"),
        (["--out", "FILE/lab.toml"], "/FILE/lab.toml: "),
        (["--pictures", "FILE"], "--pictures "),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, arguments, problem):
    out = tmp_path / "lab.toml"
    (tmp_path / "FILE").write_text("a file, not a folder")
    arguments = [a.replace("FILE", str(tmp_path / "FILE")) for a in arguments]
    assert main(["calibrate", "--out", str(out), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert problem in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_cores_that_are_not_numbers_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["calibrate", "--out", str(tmp_path / "x.toml"), "--cores", "one"])
    assert exit_.value.code == 2
    assert "expected cores like 0,3,8" in capsys.readouterr().err


def test_a_device_that_vanishes_midway_writes_the_finished_cores(tmp_path, capsys, monkeypatch):
    progress = cli_calibrate._progress

    def vanish_on_core_2(step):
        progress(step)
        if step.core == 2:
            emulated_devices.emulated_devkit("SIM0000").inject_faults(
                FaultPlan(disconnect_after_events=5)
            )

    monkeypatch.setattr(cli_calibrate, "_progress", vanish_on_core_2)
    out = tmp_path / "lab.toml"
    assert main(["calibrate", "--out", str(out), "--cores", "1,2,3"]) == 3
    captured = capsys.readouterr()
    assert "device error" in captured.err and "disconnected" in captured.err
    assert "NOT measured: cores 2,3" in captured.out
    profile = load_profile("speck2f", override=out)
    assert profile.calibration.cores == (1,) and profile.calibration.partial
    assert "PARTIAL" in out.read_text().splitlines()[3]


def test_devices_says_whether_budgets_were_measured(lab_profile, capsys):
    assert main(["devices"]) == 0
    assert "profile speck2f: SynOps/s budgets ASSUMED" in capsys.readouterr().out
    assert main(["devices", "--profile", str(lab_profile)]) == 0
    out = capsys.readouterr().out
    assert "measured on cores 0,8 (the rest assumed), serial SIM0000" in out


def test_the_fed_back_profile_sets_the_example_suite_s_budgets(lab_profile, tmp_path):
    report = tmp_path / "record.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/hil/test_judging.py::test_within_budget_no_stall",
            "--profile",
            str(lab_profile),
            "--hil-report",
            str(report),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "speck-hil: SynOps/s budgets measured on cores 0,8" in result.stdout
    record = json.loads(report.read_text())
    budgets = load_profile("speck2f", override=lab_profile).synops_per_s
    assert record["session"]["budgets"]["cores"] == [0, 8]
    assert record["session"]["budgets"]["serial"] == "SIM0000"
    peaks = {
        m["name"]: m["upper"]
        for m in record["tests"][0]["measurements"]
        if m["name"].endswith("synops_peak")
    }
    assert peaks["poisson_34.core0.synops_peak"] == pytest.approx(budgets[0])
    assert budgets[0] != 5e7


def test_assumed_budgets_on_a_real_device_are_said_in_the_verdict(lab_profile):
    rec = recordings.by_name("poisson_34")
    from hil.examples import INPUT_SHAPE_34, scnn_34

    caveats = {
        None: {0: "budget ASSUMED", 1: "budget ASSUMED"},
        lab_profile: {0: "measured on serial SIM0000, not on this board", 1: "budget ASSUMED"},
    }
    for profile, expected in caveats.items():
        with open_device("sim", profile=profile) as speck:
            speck.info = dataclasses.replace(speck.info, kind="real", serial="LAB0042")
            run = speck.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all").replay(rec, timeout_s=60)
        measure = HilMeasure()
        measure.synops_within_budget(run)
        for core, caveat in expected.items():
            (peak,) = [m for m in measure if m.name.endswith(f"core{core}.synops_peak")]
            assert caveat in peak.note
    with open_device("sim") as speck:
        run = speck.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all").replay(rec, timeout_s=60)
    measure = HilMeasure()
    measure.synops_within_budget(run)
    assert not any("ASSUMED" in m.note for m in measure)  # the emulator's budgets are its truth


def test_header_names_what_the_budgets_rest_on(pytestconfig):
    header = TerminalLines(session_of(pytestconfig)).pytest_report_header(pytestconfig)
    assert any("SynOps/s budgets" in line for line in header)


def test_finds_a_chip_hidden_in_hil_sim_profile_not_the_harness_s_belief(
    tmp_path, monkeypatch, capsys
):
    truth = tmp_path / "truth.toml"
    truth.write_text(
        "[timing]\nsynops_per_s = [3.3e7, 3.3e7, 3.3e7, 3.3e7, 3.3e7, 3.3e7, 3.3e7, 3.3e7, 3.3e7]"
        "\npipeline_latency_us = 40.0\n[noise]\njitter_us = 20.0\nspike_loss = 0.01\n"
    )
    monkeypatch.setenv("HIL_SIM_PROFILE", str(truth))
    out = tmp_path / "lab.toml"
    assert main(["calibrate", "--out", str(out), "--cores", "1,6"]) == 0
    found = load_profile("speck2f", override=out)
    assert found.synops_per_s[1] == pytest.approx(3.3e7, rel=0.05)
    assert found.synops_per_s[6] == pytest.approx(3.3e7, rel=0.05)
    assert found.synops_per_s[0] == 5e7  # not measured: still the belief
    assert found.pipeline_latency_us == pytest.approx(40.0, rel=0.20)
    assert "believed" in capsys.readouterr().out


def test_a_profile_that_cannot_be_written_after_measuring_is_kept(tmp_path, capsys, monkeypatch):
    from hil.calibration import profile as calibration_profile

    write = calibration_profile.write_profile

    def full_disk_once(path, *args):
        if path.name == "lab.toml":
            raise OSError(28, "No space left on device")
        return write(path, *args)

    monkeypatch.setattr(calibration_profile, "write_profile", full_disk_once)
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "--out", str(tmp_path / "lab.toml"), "--cores", "4"]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and "the calibration is in" in error
    (kept,) = tmp_path.glob("speck-hil-calibration-*.toml")
    assert load_profile("speck2f", override=kept).calibration.cores == (4,)
