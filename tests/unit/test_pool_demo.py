"""The issue's demonstrations of board pools, run as a lab would run them: separate pytest
processes on three emulated speck2fmodules (``HIL_SIM_DEVKITS``), sharing one lock folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_plugin_pool import DEVICE_TESTS

REPO = Path(__file__).resolve().parents[2]
POOL = "sim:speck2fmodule:*"
SERIALS = {"SIM0000", "SIM0001", "SIM0002"}


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """The environment of the lab's pytest processes."""
    for name in ("HIL_DEVICE", "HIL_DEVICE_EACH", "HIL_BOARD_WAIT", "HIL_REQUIRE_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return {
        **os.environ,
        "HIL_SIM_DEVKITS": "speck2fmodule@SIM0000,speck2fmodule@SIM0001,speck2fmodule@SIM0002",
        "HIL_LOCK_DIR": str(tmp_path / "locks"),
    }


def pytest_process(env: dict, cwd: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, output
    return output


@pytest.mark.slow
def test_three_workers_run_the_lab_suite_once_on_three_boards_with_one_record(lab, tmp_path):
    report = tmp_path / "run.json"
    args = ("-n", "3", "tests/hil", "--device", POOL, "--hil-report", str(report))
    output = finish(pytest_process(lab, REPO, *args))
    record = json.loads(report.read_text())
    nodeids = [test["nodeid"] for test in record["tests"]]
    assert len(nodeids) == len(set(nodeids)) >= 10  # every test once
    ran = [t for t in record["tests"] if t["outcome"] in ("passed", "xfailed", "failed")]
    assert all(t["outcome"] != "failed" for t in ran), output
    assert {t["serial"] for t in ran} == SERIALS
    workers = record["session"]["workers"]
    assert sorted(w["device"]["serial"] for w in workers.values()) == sorted(SERIALS)
    for worker in workers:
        assert f"[{worker}] speck-hil pool {POOL}: leased SIM000" in output


def _lab_suite(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "test_devices.py").write_text(DEVICE_TESTS)
    return folder


def _runs(folder: Path) -> list[tuple[str, str, float]]:
    """(test, serial, when) for each device test that ran."""
    log = folder / "ran.log"
    lines = log.read_text().split("\n") if log.exists() else []
    return [(name, serial, float(t)) for name, serial, _, t in (x.split() for x in lines if x)]


@pytest.mark.slow
@pytest.mark.parametrize("wait", ["0", "600"])
def test_two_sessions_started_at_once_never_share_a_board(lab, tmp_path, wait):
    """With --board-wait 0 what finds no board skips; with a long wait it runs once the other
    session has released the board. Either way no board is used by both at once."""
    folders = [_lab_suite(tmp_path, name) for name in ("first", "second")]
    processes = [
        pytest_process(lab, folder, "-n", "3", "--device", POOL, "--board-wait", wait)
        for folder in folders
    ]
    outputs = [finish(process) for process in processes]
    runs = [_runs(folder) for folder in folders]
    for serial in SERIALS:
        spans = [
            (min(times), max(times))
            for times in ([when for _, s, when in session if s == serial] for session in runs)
            if times
        ]
        if len(spans) == 2:  # used by both sessions: one after the other
            (_, first_end), (second_start, _) = sorted(spans)
            assert first_end < second_start, (serial, spans)
    for output, session in zip(outputs, runs, strict=True):
        skipped = 6 - len(session)
        if wait == "600":
            assert skipped == 0, output
        elif skipped:
            assert "no board free: every board of" in output, output
    assert sum(len(session) for session in runs) >= 6  # someone ran every test


@pytest.mark.slow
def test_device_each_runs_a_lab_test_once_on_each_board(lab, tmp_path):
    report = tmp_path / "run.json"
    test = "tests/hil/test_replay.py::test_scnn_34_on_poisson"
    args = (test, "--device", POOL, "--device-each", "--hil-report", str(report), "-p", "no:xdist")
    output = finish(pytest_process(lab, REPO, *args))
    assert "3 passed" in output, output
    record = json.loads(report.read_text())
    assert sorted((t["nodeid"].rpartition("[")[2], t["serial"]) for t in record["tests"]) == [
        (f"{serial}]", serial) for serial in sorted(SERIALS)
    ]
