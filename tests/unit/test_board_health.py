"""Board health across sessions: doctor and quarantines mark boards bad in the lock folder,
pools skip them with the reason, ``speck-hil boards clear`` and a passing doctor return them."""

import json

import pytest
import sinabs.layers  # noqa: F401  loaded once here: an inner session cannot load numpy's C parts again
import tomli_w
import tomllib
from test_plugin_pool import DEVICE_TESTS, POOL, REPLAYING_TESTS, UNPLUGGING_CONFTEST

from hil.backends import open_device, parse_device_spec
from hil.calibration.board_facts import read_facts, rest_on_board_facts
from hil.cli import main
from hil.cli.common import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_FAILED
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.lab.health import BAD, GOOD, HealthStore
from hil.lab.pool import BoardPool

BOARD = parse_device_spec("sim:speck2fmodule@SIM0000")


@pytest.fixture
def lab(monkeypatch, tmp_path):
    """Two emulated boards and a fresh lock folder for this process and inner sessions."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark")
    for name in ("HIL_DEVICE", "HIL_DEVICE_SCOPE", "HIL_REQUIRE_DEVICE", "HIL_BOARD_WAIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HIL_SIM_DEVKITS", "speck2fmodule@SIM0000,speck2fmodule@SIM0001")
    monkeypatch.setenv("HIL_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr(emulated_devices, "_attached", None)
    monkeypatch.setattr(emulated_devices, "_opened", {})
    return HealthStore(tmp_path / "locks")


def test_the_store_keeps_the_health_its_reason_and_a_log(tmp_path):
    store = HealthStore(tmp_path)
    assert store.get(BOARD) is None
    assert store.mark(BOARD, BAD, "core 3 dead", "doctor", "run 1")
    assert not store.mark(BOARD, BAD, "core 3 still dead", "doctor", "run 2")
    health = store.get(BOARD)
    assert (health.health, health.reason, health.check, health.run) == (
        BAD,
        "core 3 still dead",
        "doctor",
        "run 2",
    )
    assert [entry["reason"] for entry in health.log] == ["core 3 dead", "core 3 still dead"]
    assert store.bad([BOARD, parse_device_spec("sim:speck2fmodule@SIM0001")]) == {"SIM0000": health}
    assert [h.board for h in store.find("SIM0000")] == [str(BOARD)]
    assert store.find("speck2fmodule@SIM0000") == store.find("sim:speck2fmodule@SIM0000")
    assert store.mark(BOARD, GOOD, "cleared", "boards clear", "run 3")
    assert store.bad([BOARD]) == {}
    store.path(BOARD).write_text("{not json")
    with pytest.raises(ValueError, match="not a board health file"):
        store.get(BOARD)


def test_doctor_exit_status_json_facts_and_health(lab, tmp_path, capsys, monkeypatch):
    facts = tmp_path / "facts.toml"
    assert main(["doctor", "--quick", "--format", "json", "--out", str(facts)]) == 0
    captured = capsys.readouterr()
    findings = json.loads(captured.out)
    assert {f["outcome"] for f in findings if f["check"] != "unplug"} == {"pass"}
    assert "doctor: [1/10] identity" in captured.err
    read = read_facts(facts)
    assert read.serial == "SIM0000" and read.timestamps_healthy
    assert read.healthy_cores == tuple(range(9)) and read.config_write_s >= 0
    assert lab.get(BOARD).health == GOOD

    truth = tmp_path / "truth.toml"
    truth.write_text("[faults]\ndead_cores = [3]\n")
    monkeypatch.setenv("HIL_SIM_PROFILE", str(truth))
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000", "speck2fmodule@SIM0001"])
    assert main(["doctor", "--quick"]) == EXIT_FAILED
    out = capsys.readouterr()
    assert "cores 3       fail     core 3 never fired" in out.out
    assert "board SIM0000: marked bad (doctor check cores (core 3) failed" in out.err
    assert main(["boards"]) == 0
    listed = capsys.readouterr().out
    assert "sim:speck2fmodule@SIM0000  bad" in listed and "core 3 never fired" in listed

    monkeypatch.delenv("HIL_SIM_PROFILE")
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000", "speck2fmodule@SIM0001"])
    assert main(["doctor", "--quick", "--device", "sim:speck2fmodule@SIM0000"]) == 0
    assert "SIM0000: returned to service (doctor passed)" in capsys.readouterr().err
    assert lab.get(BOARD).health == GOOD


def test_doctor_refuses_bad_input_and_reports_a_device_error(lab, tmp_path, capsys, monkeypatch):
    assert main(["doctor", "--device", "sinabs"]) == EXIT_BAD_INPUT
    assert main(["doctor", "--device", POOL]) == EXIT_BAD_INPUT
    assert main(["doctor", "--out", str(tmp_path)]) == EXIT_BAD_INPUT
    assert main(["boards", "clear", "SIM0042"]) == EXIT_BAD_INPUT
    assert "no board of that name" in capsys.readouterr().err

    held = BoardPool("held", [BOARD], lab.folder).try_lease()  # a session drives it
    assert main(["doctor", "--device", str(BOARD)]) == EXIT_DEVICE
    assert "leased by pid" in capsys.readouterr().err
    held.release()

    import hil.backends as backends

    opened = backends.open_device

    def unplugged_soon(spec, profile=None):
        device = opened(spec, profile)
        board = emulated_devices.emulated_devkit(device.info.serial)
        board.inject_faults(FaultPlan(disconnect_after_events=60))
        return device

    monkeypatch.setattr(backends, "open_device", unplugged_soon)
    assert main(["doctor", "--quick"]) == EXIT_DEVICE
    assert "disconnected" in capsys.readouterr().err
    assert lab.get(BOARD).health == BAD


@pytest.mark.slow
def test_a_quarantined_board_is_skipped_by_the_next_session_until_cleared(
    pytester, lab, monkeypatch, capsys
):
    """Three sessions in a row: the first quarantines SIM0000 (unplugged halfway through a
    replay), the second skips it with the reason, ``boards clear`` returns it, the third
    leases it again."""
    pytester.makeconftest(UNPLUGGING_CONFTEST)
    pytester.makepyfile(test_devices=REPLAYING_TESTS)
    monkeypatch.setenv("UNPLUG", "SIM0000")
    first = pytester.runpytest("--device", POOL, "-p", "no:xdist", "--board-wait", "0")
    first.assert_outcomes(passed=6, failed=1)
    health = lab.get(BOARD)
    assert health.bad and "disconnected" in health.reason
    assert health.check == "test_devices.py::test_one"

    monkeypatch.setenv("UNPLUG", "")
    (pytester.path / "pulled-SIM0000").unlink()  # plugged in again
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    second = pytester.runpytest("--device", POOL, "-p", "no:xdist", "--board-wait", "0")
    second.assert_outcomes(passed=7)
    second.stdout.fnmatch_lines(
        [
            "speck-hil pool: skipped: board SIM0000 is marked bad since * by "
            "test_devices.py::test_one (pytest session*): *disconnected*; "
            "`speck-hil boards clear SIM0000` returns it to service"
        ]
    )
    assert {line.split()[1] for line in (pytester.path / "ran.log").read_text().splitlines()} == {
        "SIM0001"
    }

    named = pytester.runpytest("--device", "sim:speck2fmodule@SIM0000", "-p", "no:xdist", "-rs")
    named.assert_outcomes(passed=1, skipped=6)
    named.stdout.fnmatch_lines(["*SKIPPED*board SIM0000 is marked bad since*disconnected*"])

    assert main(["boards", "clear", "SIM0000"]) == 0
    assert "returned to service" in capsys.readouterr().out
    (pytester.path / "ran.log").unlink()
    third = pytester.runpytest("--device", POOL, "-p", "no:xdist", "--board-wait", "0")
    third.assert_outcomes(passed=7)
    assert {line.split()[1] for line in (pytester.path / "ran.log").read_text().splitlines()} == {
        "SIM0000"
    }


HEALTH_CHECK_CONFTEST = """
import os
from pathlib import Path

from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices

DEAD = os.environ.get("DEAD_CORE_ON", "")


def pytest_hil_open_device(config, spec, profile):
    device = open_device(spec, profile)
    if device.info.serial == DEAD:
        from hil.emulator.truth import emulated_profile
        from dataclasses import replace
        from hil.chip.faults import BoardFaults

        board = emulated_devices.emulated_devkit(device.info.serial)
        board.use_profile(replace(emulated_profile("speck2f"), faults=BoardFaults(dead_cores=(5,))))
    return device
"""


@pytest.mark.slow
def test_health_check_marks_a_failing_board_bad_and_the_session_goes_on(pytester, lab, monkeypatch):
    pytester.makeconftest(HEALTH_CHECK_CONFTEST)
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    monkeypatch.setenv("DEAD_CORE_ON", "SIM0000")
    result = pytester.runpytest("--device", POOL, "-p", "no:xdist", "--hil-health-check")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        ["*board SIM0000 failed doctor's quick checks: doctor check cores (core 5) failed*"]
    )
    assert lab.get(BOARD).bad and lab.get(BOARD).check == "--hil-health-check"
    assert {line.split()[1] for line in (pytester.path / "ran.log").read_text().splitlines()} == {
        "SIM0001"
    }
    monkeypatch.setenv("DEAD_CORE_ON", "SIM0001")
    alone = pytester.runpytest("--device", POOL, "-p", "no:xdist", "--hil-health-check", "-rs")
    alone.assert_outcomes(passed=1, skipped=6)
    alone.stdout.fnmatch_lines(["*SKIPPED*health check: doctor check cores (core 5) failed*"])


def test_a_session_rests_on_the_board_facts_doctor_left_in_the_lock_folder(pytester, lab, tmp_path):
    """The barrier after a configuration write waits ten times what doctor measured on the
    board (never less than the default)."""
    assert main(["doctor", "--quick", "--device", "sim:speck2fmodule@SIM0001"]) == 0
    facts = lab.facts_path(parse_device_spec("sim:speck2fmodule@SIM0001"))
    assert read_facts(facts).serial == "SIM0001"
    document = tomllib.loads(facts.read_text())
    document["timing"]["config_write_s"] = 3.0  # a slow board
    facts.write_text(tomli_w.dumps(document))
    with open_device("sim:speck2fmodule@SIM0001") as device:  # as speck-hil calibrate does
        assert "configuration write 3 s" in rest_on_board_facts(device)
        assert device.probe_timeout_s == 30.0
    pytester.makepyfile(
        test_timeout="""
def test_timeout(speck):
    assert speck.probe_timeout_s == 30.0
"""
    )
    result = pytester.runpytest("--device", "sim:speck2fmodule@SIM0001", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*board SIM0001: doctor's board facts of *: configuration write 3 s, so the barrier "
            "read after one waits up to 30 s"
        ]
    )
