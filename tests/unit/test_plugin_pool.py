"""Board pools in pytest sessions (``hil.plugin.pool``, ``hil.plugin.workers``).

Inner sessions run on emulated boards attached through ``HIL_SIM_DEVKITS`` (workers are new
processes: they read it), with their locks in a fresh ``HIL_LOCK_DIR``. Device tests log
which board they ran on, from which process, and when.
"""

import json
import os

import pytest
import sinabs.layers  # noqa: F401  loaded once here: an inner session cannot load numpy's C parts again

from hil.backends import parse_device_spec
from hil.emulator.samna import device as emulated_devices
from hil.lab.pool import BoardPool
from hil.plugin.pool import PoolPlugin

POOL = "sim:speck2fmodule:*"

DEVICE_TESTS = """
import os, time
from pathlib import Path

LOG = Path(__file__).parent / "ran.log"


def log(name, speck):
    start = time.time()
    with LOG.open("a") as f:
        f.write(f"{name} {speck.info.serial} {os.getpid()} {start}\\n")


def test_one(speck): log("one", speck)
def test_two(speck): log("two", speck)
def test_three(speck): log("three", speck)
def test_four(speck): log("four", speck)
def test_five(speck): log("five", speck)
def test_six(speck): log("six", speck)
def test_without_device(): pass
"""


@pytest.fixture
def boards(pytester, monkeypatch, tmp_path):
    return attach_three_boards(monkeypatch, tmp_path)


def attach_three_boards(monkeypatch, tmp_path) -> BoardPool:
    """Three emulated speck2fmodules, for the inner session and its workers."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark")
    for name in ("HIL_DEVICE", "HIL_DEVICE_SCOPE", "HIL_REQUIRE_DEVICE", "HIL_BOARD_WAIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "HIL_SIM_DEVKITS", "speck2fmodule@SIM0000,speck2fmodule@SIM0001,speck2fmodule@SIM0002"
    )
    monkeypatch.setenv("HIL_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr(emulated_devices, "_attached", None)
    monkeypatch.setattr(emulated_devices, "_opened", {})
    return BoardPool(
        POOL,
        [parse_device_spec(f"sim:speck2fmodule@SIM000{i}") for i in range(3)],
        tmp_path / "locks",
    )


def _ran(pytester) -> list[tuple[str, str, int]]:
    lines = (pytester.path / "ran.log").read_text().split("\n")
    return [(n, serial, int(pid)) for n, serial, pid, _ in (x.split() for x in lines if x)]


def _record(pytester) -> dict:
    return json.loads((pytester.path / "hil.json").read_text())


@pytest.mark.slow
def test_three_workers_lease_three_boards_and_the_controller_writes_one_record(pytester, boards):
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("-n", "3", "--device", POOL, "--hil-report", "hil.json")
    result.assert_outcomes(passed=7)
    ran = _ran(pytester)
    assert len(ran) == 6
    board_of = {pid: {serial for _, serial, p in ran if p == pid} for _, _, pid in ran}
    assert all(len(serials) == 1 for serials in board_of.values())  # one board per worker
    serials = {serial for _, serial, _ in ran}
    assert serials == {"SIM0000", "SIM0001", "SIM0002"}
    record = _record(pytester)
    tests = {t["nodeid"].split("::")[-1]: t for t in record["tests"]}
    assert {tests[f"test_{name}"]["serial"] for name, _, _ in ran} == serials
    assert all(tests[f"test_{name}"]["serial"] == serial for name, serial, _ in ran)
    assert tests["test_without_device"]["serial"] is None
    workers = record["session"]["workers"]
    assert sorted(w["device"]["serial"] for w in workers.values()) == sorted(serials)
    assert all(w["pool"]["leases"][0]["serial"] == w["device"]["serial"] for w in workers.values())
    summary = result.stdout.str()
    for worker in ("gw0", "gw1", "gw2"):
        assert f"[{worker}] speck-hil device: speck2fmodule@SIM000" in summary


def test_a_session_that_finds_every_board_leased_skips_its_device_tests(pytester, boards):
    held = [boards.try_lease() for _ in range(3)]
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("--device", POOL, "--board-wait", "0", "-rs", "-p", "no:xdist")
    result.assert_outcomes(passed=1, skipped=6)
    result.stdout.fnmatch_lines(
        [f"*no board free: every board of {POOL} is taken (SIM0000 leased by pid {os.getpid()}*"]
    )
    assert not (pytester.path / "ran.log").exists()
    assert all(lease.serial for lease in held)


def test_a_session_waits_for_a_board_another_session_releases(pytester, boards, monkeypatch):
    held = [boards.try_lease() for _ in range(3)]
    say = PoolPlugin._say

    def say_while_the_other_session_ends(plugin, line):
        say(plugin, line)
        held[1].release()

    monkeypatch.setattr(PoolPlugin, "_say", say_while_the_other_session_ends)
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("--device", POOL, "--board-wait", "60", "-p", "no:xdist")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*every board of * is taken*; waiting up to 60 s"])
    assert {serial for _, serial, _ in _ran(pytester)} == {held[1].serial}


def test_the_leased_board_is_released_when_the_session_ends(pytester, boards):
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    pytester.runpytest("--device", POOL, "-p", "no:xdist").assert_outcomes(passed=7)
    leases = [boards.try_lease() for _ in range(3)]
    assert None not in leases


def test_device_each_runs_every_device_test_on_every_board(pytester, boards):
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest(
        "--device", POOL, "--device-each", "--hil-report", "hil.json", "-p", "no:xdist", "-v"
    )
    result.assert_outcomes(passed=19)
    result.stdout.fnmatch_lines(["*test_one?SIM0000?*PASSED*", "*test_six?SIM0002?*PASSED*"])
    ran = _ran(pytester)
    assert sorted((name, serial) for name, serial, _ in ran) == sorted(
        (name, f"SIM000{i}")
        for name in ("one", "two", "three", "four", "five", "six")
        for i in range(3)
    )
    for test in _record(pytester)["tests"]:
        if test["nodeid"].endswith("]"):
            assert test["nodeid"].endswith(f"[{test['serial']}]")


@pytest.mark.slow
def test_device_each_under_xdist_runs_each_boards_tests_on_one_worker(pytester, boards):
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("-n", "2", "--device", POOL, "--device-each")
    result.assert_outcomes(passed=19)
    ran = _ran(pytester)
    assert len(ran) == 18
    for serial in ("SIM0000", "SIM0001", "SIM0002"):
        assert len({pid for _, s, pid in ran if s == serial}) == 1


def test_device_each_needs_a_pool(pytester, boards):
    result = pytester.runpytest("--device", "sim", "--device-each", "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device-each needs a pool of boards*--device sim is one*"])


@pytest.mark.parametrize("wait", ["-1", "soon", "nan"])
def test_a_bad_board_wait_is_a_usage_error(pytester, boards, wait):
    result = pytester.runpytest("--device", POOL, "--board-wait", wait, "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--board-wait {wait!r}: expected seconds*"])


def test_a_lock_folder_that_cannot_be_written_is_a_usage_error(pytester, boards, monkeypatch):
    (pytester.path / "locks").write_text("a file, not a folder")
    monkeypatch.setenv("HIL_LOCK_DIR", "locks")
    result = pytester.runpytest("--device", POOL, "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*HIL_LOCK_DIR *locks: is not a folder*"])


UNPLUGGING_CONFTEST = """
import os

import sinabs.layers as sl
import torch
from torch import nn

from hil.recordings import synthetic
from hil.backends import DeviceUnavailable, open_device
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices

UNPLUG = os.environ["UNPLUG"].split(",")
EVENTS = synthetic.poisson(20_000, 0.05, size=(8, 8), seed=1)


def tiny_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), sl.IAFSqueeze(batch_size=1))
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.5)
    return net


def pytest_hil_open_device(config, spec, profile):
    \"\"\"The boards UNPLUG names are pulled out of their USB port halfway through their first
    replay.\"\"\"
    serial = spec.rpartition("@")[2]
    pulled = config.rootpath / f"pulled-{serial}"
    if serial in UNPLUG and pulled.exists():
        raise DeviceUnavailable(spec, "not attached")
    device = open_device(spec, profile)
    if device.info.serial in UNPLUG:
        pulled.touch()
        board = emulated_devices.emulated_devkit(device.info.serial)
        board.inject_faults(FaultPlan(disconnect_after_events=len(EVENTS) // 2))
    return device
"""

REPLAYING_TESTS = DEVICE_TESTS.replace(
    "def log(name, speck):",
    "from conftest import EVENTS, tiny_net\n\n\n"
    "def log(name, speck):\n"
    "    if speck.info.serial in os.environ['UNPLUG'].split(','):\n"
    "        speck.deploy(tiny_net(), (2, 8, 8)).replay(EVENTS)",
)


def test_a_board_that_breaks_is_quarantined_and_the_tests_move_to_a_spare(
    pytester, boards, monkeypatch
):
    pytester.makeconftest(UNPLUGGING_CONFTEST)
    pytester.makepyfile(test_devices=REPLAYING_TESTS)
    monkeypatch.setenv("UNPLUG", "SIM0000")
    result = pytester.runpytest("--device", POOL, "--hil-report", "hil.json", "-p", "no:xdist")
    result.assert_outcomes(passed=6, failed=1)
    tests = {t["nodeid"].split("::")[-1]: t for t in _record(pytester)["tests"]}
    assert tests["test_one"]["outcome"] == "failed"
    assert tests["test_one"]["serial"] == "SIM0000"
    assert "disconnected" in tests["test_one"]["message"]
    moved = [tests[f"test_{n}"]["serial"] for n in ("two", "three", "four", "five", "six")]
    assert moved == ["SIM0001"] * 5
    pool = _record(pytester)["session"]["pool"]
    assert list(pool["quarantined"]) == ["SIM0000"]
    assert [lease["serial"] for lease in pool["leases"]] == ["SIM0000", "SIM0001"]
    result.stdout.fnmatch_lines(
        [
            "*board SIM0000 quarantined for the rest of the session: *disconnected*; "
            "its remaining tests run on SIM0001"
        ]
    )


def test_without_a_spare_board_the_remaining_device_tests_skip_with_the_cause(
    pytester, boards, monkeypatch
):
    held = [boards.try_lease(exclude=["SIM0000"]) for _ in range(2)]
    pytester.makeconftest(UNPLUGGING_CONFTEST)
    pytester.makepyfile(test_devices=REPLAYING_TESTS)
    monkeypatch.setenv("UNPLUG", "SIM0000")
    result = pytester.runpytest("--device", POOL, "-p", "no:xdist", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    result.stdout.fnmatch_lines(
        [
            "*board SIM0000 quarantined*no spare board free*remaining device tests skip",
            "*SKIPPED [[]1[]]*device broken earlier in this session*disconnected*",
        ]
    )
    assert all(lease.serial for lease in held)


@pytest.mark.slow
def test_under_xdist_a_worker_whose_board_breaks_moves_to_the_spare(pytester, boards, monkeypatch):
    pytester.makeconftest(UNPLUGGING_CONFTEST)
    pytester.makepyfile(test_devices=REPLAYING_TESTS)
    monkeypatch.setenv("UNPLUG", "SIM0000")
    result = pytester.runpytest("-n", "2", "--device", POOL, "--hil-report", "hil.json")
    result.assert_outcomes(passed=6, failed=1)
    record = _record(pytester)
    tests = {t["nodeid"].split("::")[-1]: t for t in record["tests"]}
    failed = [name for name, t in tests.items() if t["outcome"] == "failed"]
    assert [tests[name]["serial"] for name in failed] == ["SIM0000"]
    passed = {t["serial"] for t in record["tests"] if t["outcome"] == "passed" and t["serial"]}
    pools = [w["pool"] for w in record["session"]["workers"].values()]
    broken = [p for p in pools if p["quarantined"]]
    assert [list(p["quarantined"]) for p in broken] == [["SIM0000"]]
    leases = [lease["serial"] for lease in broken[0]["leases"]]
    assert leases[0] == "SIM0000" and leases[1] in {"SIM0001", "SIM0002"}
    assert leases[1] in passed  # the spare ran the tests that were the broken board's
    assert passed <= {"SIM0001", "SIM0002"}
    result.stdout.fnmatch_lines(
        ["[[]gw?[]] *board SIM0000 quarantined*its remaining tests run on*"]
    )


MANY_DEVICE_TESTS = """
import os
import time
from pathlib import Path

import pytest

from conftest import EVENTS, UNPLUG, tiny_net

LOG = Path(__file__).parent / "ran.log"


def after_the_break():
    \"\"\"Tests on good boards wait until the unplugged boards are quarantined, so every
    worker holding a good board is still busy then: no spare comes free.\"\"\"
    markers = [LOG.parent / f"quarantined-{serial}" for serial in UNPLUG if serial]
    deadline = time.monotonic() + 120
    while not all(marker.exists() for marker in markers) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("n", range(12))
def test_device(speck, n):
    if speck.info.serial in UNPLUG:
        speck.deploy(tiny_net(), (2, 8, 8)).replay(EVENTS)
    else:
        after_the_break()
    with LOG.open("a") as f:
        f.write(f"{n} {speck.info.serial} {os.getpid()} 0\\n")


def test_without_device():
    pass
"""

MARKING_CONFTEST = """

def pytest_runtest_logreport(report):
    \"\"\"Say which boards this worker quarantined, for the tests that wait for it.\"\"\"
    if report.when == "teardown":
        for serial in CONFIG.pluginmanager.get_plugin("hil-pool").quarantined:
            (CONFIG.rootpath / f"quarantined-{serial}").touch()


def pytest_configure(config):
    global CONFIG
    CONFIG = config
"""


def _by_test(record: dict) -> dict[str, dict]:
    return {t["nodeid"].split("::")[-1]: t for t in record["tests"]}


def _unplugging_run(pytester, monkeypatch, unplug: str, *args: str):
    pytester.makeconftest("import pytest\n" + UNPLUGGING_CONFTEST + MARKING_CONFTEST)
    pytester.makepyfile(test_devices=MANY_DEVICE_TESTS)
    monkeypatch.setenv("UNPLUG", unplug)
    return pytester.runpytest(*args, "--device", POOL, "--hil-report", "hil.json", "-rs")


@pytest.mark.slow
def test_under_xdist_a_broken_boards_remaining_tests_move_to_the_other_workers(
    pytester, boards, monkeypatch
):
    """Three workers, three boards, no spare: one board is unplugged mid-session."""
    result = _unplugging_run(pytester, monkeypatch, "SIM0000", "-n", "3")
    result.assert_outcomes(passed=12, failed=1)
    record = _record(pytester)
    tests = _by_test(record)
    failed = [t for t in tests.values() if t["outcome"] == "failed"]
    assert [t["serial"] for t in failed] == ["SIM0000"]
    assert "disconnected" in failed[0]["message"]
    ran = sorted(int(n) for n, _, _ in _ran(pytester))
    assert len(ran) == 11 and len(set(ran)) == 11  # every other device test ran, once
    serials = {t["serial"] for t in tests.values() if t["outcome"] == "passed" and t["serial"]}
    assert serials == {"SIM0001", "SIM0002"}
    broken = [w for w, s in record["session"]["workers"].items() if s["pool"]["quarantined"]]
    assert len(broken) == 1
    assert list(record["session"]["workers"][broken[0]]["pool"]["quarantined"]) == ["SIM0000"]
    moved = record["session"]["moved_tests"]
    assert moved and {m["from"] for m in moved} == set(broken)
    assert all(tests[m["nodeid"].split("::")[-1]]["outcome"] == "passed" for m in moved)
    result.stdout.fnmatch_lines(
        [
            f"[[]{broken[0]}[]] speck-hil pool: board SIM0000 quarantined for the rest of the "
            "session: *disconnected*no spare board free*remaining device tests go to the "
            "workers holding SIM0001, SIM0002",
            f"speck-hil pool: [[]{broken[0]}[]] had no board; {len(moved)} device test* it was "
            "given ran on other workers",
        ]
    )


@pytest.mark.slow
def test_under_xdist_two_boards_one_breaks_and_the_other_runs_the_rest(
    pytester, boards, monkeypatch
):
    monkeypatch.setenv("HIL_SIM_DEVKITS", "speck2fmodule@SIM0000,speck2fmodule@SIM0001")
    result = _unplugging_run(pytester, monkeypatch, "SIM0000", "-n", "2")
    result.assert_outcomes(passed=12, failed=1)
    tests = _by_test(_record(pytester))
    assert {t["serial"] for t in tests.values() if t["outcome"] == "failed"} == {"SIM0000"}
    passed = [t["serial"] for t in tests.values() if t["outcome"] == "passed" and t["serial"]]
    assert passed == ["SIM0001"] * 11


@pytest.mark.slow
def test_under_xdist_when_every_board_breaks_the_rest_skip_with_the_cause(
    pytester, boards, monkeypatch
):
    monkeypatch.setenv("HIL_SIM_DEVKITS", "speck2fmodule@SIM0000,speck2fmodule@SIM0001")
    result = _unplugging_run(pytester, monkeypatch, "SIM0000,SIM0001", "-n", "2")
    result.assert_outcomes(passed=1, failed=2, skipped=10)
    tests = _by_test(_record(pytester))
    assert len(tests) == 13
    skipped = [t for t in tests.values() if t["outcome"] == "skipped"]
    assert all("device broken earlier in this session" in t["message"] for t in skipped)
    assert all("disconnected" in t["message"] for t in skipped)


@pytest.mark.slow
def test_under_xdist_a_worker_without_a_board_hands_its_tests_to_the_others_at_once(
    pytester, boards, monkeypatch
):
    """Three workers, two boards: the third does not wait for a board its run mates hold."""
    monkeypatch.setenv("HIL_SIM_DEVKITS", "speck2fmodule@SIM0000,speck2fmodule@SIM0001")
    result = _unplugging_run(pytester, monkeypatch, "", "-n", "3", "--board-wait", "600")
    result.assert_outcomes(passed=13)
    record = _record(pytester)
    leases = [w["pool"]["leases"] for w in record["session"]["workers"].values()]
    assert sorted(len(x) for x in leases) == [0, 1, 1]
    serials = {t["serial"] for t in record["tests"] if t["serial"]}
    assert serials == {"SIM0000", "SIM0001"}
    result.stdout.fnmatch_lines(
        [
            "[[]gw?[]] speck-hil pool: no board: every board of sim:speck2fmodule:* is taken "
            "(*); other workers of this run hold a board (gw? SIM000?*): this worker's device "
            "tests go to them",
        ]
    )
    assert "waiting up to" not in result.stdout.str()
