"""One board named on its own (``--device TYPE``, ``TYPE:INDEX``, ``TYPE@SERIAL``) is leased
through the same lock as a pool's boards, so two pytest processes never drive it. Real boards
need samna; emulated boards named by index or serial are locked the same way, which is how
these tests model them."""

import re

import pytest

from hil.backends import parse_device_spec
from hil.lab.pool import named_board
from tests.unit.test_plugin_pool import DEVICE_TESTS, _ran, _record, attach_three_boards


@pytest.fixture
def boards(pytester, monkeypatch, tmp_path):
    return attach_three_boards(monkeypatch, tmp_path)


HOLDS_ITS_LOCK = """
from hil.backends import parse_device_spec
from hil.lab.pool import BoardPool, default_lock_dir


def test_the_board_is_locked_while_the_session_runs(speck):
    board = parse_device_spec(f"sim:speck2fmodule@{speck.info.serial}")
    assert BoardPool("other session", [board], default_lock_dir()).try_lease() is None
"""


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("sim:speck2fmodule@SIM0002", "sim:speck2fmodule@SIM0002"),
        ("sim:speck2fmodule:1", "sim:speck2fmodule@SIM0001"),
        ("sim:speck2fmodule:0", "sim:speck2fmodule@SIM0000"),
        ("speck2fmodule@0123ABCD", "speck2fmodule@0123ABCD"),
    ],
)
def test_a_spec_naming_one_board_names_it_by_serial(boards, spec, named):
    assert str(named_board(parse_device_spec(spec))) == named


@pytest.mark.parametrize(
    "spec", ["sim", "sim:speck2fmodule", "sim:speck2fmodule:*", "sinabs", "speck2fmodule"]
)
def test_what_is_not_one_lockable_board_names_none(boards, spec):
    """``sim`` is private to each process; a real TYPE needs samna (absent here)."""
    assert named_board(parse_device_spec(spec)) is None


def test_a_board_that_is_not_attached_names_none(boards):
    assert named_board(parse_device_spec("sim:speck2fmodule:7")) is None


@pytest.mark.parametrize("spec", ["sim:speck2fmodule@SIM0001", "sim:speck2fmodule:1"])
def test_a_session_on_a_board_another_session_holds_skips_its_device_tests(pytester, boards, spec):
    held = boards.try_lease(exclude=["SIM0000", "SIM0002"])
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("--device", spec, "--board-wait", "0", "-rs", "-p", "no:xdist")
    result.assert_outcomes(passed=1, skipped=6)
    result.stdout.fnmatch_lines(["*no board free: board SIM0001 leased by pid *"])
    assert held.serial == "SIM0001"


def test_a_session_holds_its_boards_lock_and_releases_it_at_the_end(pytester, boards):
    pytester.makepyfile(test_lock=HOLDS_ITS_LOCK)
    result = pytester.runpytest("--device", "sim:speck2fmodule@SIM0002", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["speck-hil board SIM0002: its lock in *locks"])
    assert boards.try_lease(exclude=["SIM0000", "SIM0001"]).serial == "SIM0002"


def test_a_session_waits_for_its_board(pytester, boards, monkeypatch):
    from hil.plugin.pool import PoolPlugin

    held = boards.try_lease(exclude=["SIM0000", "SIM0002"])
    say = PoolPlugin._say

    def say_while_the_other_session_ends(plugin, line):
        say(plugin, line)
        held.release()

    monkeypatch.setattr(PoolPlugin, "_say", say_while_the_other_session_ends)
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("--device", "sim:speck2fmodule:1", "-p", "no:xdist")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*board SIM0001 leased by pid *; waiting up to 60 s"])
    assert {serial for _, serial, _ in _ran(pytester)} == {"SIM0001"}


@pytest.mark.parametrize("spec", ["sim", "sim:speck2fmodule"])
def test_an_unnamed_emulated_board_takes_no_lock(pytester, boards, spec):
    held = [boards.try_lease() for _ in range(3)]
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest("--device", spec, "--board-wait", "0", "-p", "no:xdist")
    result.assert_outcomes(passed=7)
    assert all(held)


@pytest.mark.slow
def test_under_xdist_one_board_runs_every_device_test_of_the_run(pytester, boards):
    """Two workers, one board: the worker without it hands its device tests to the other
    at once instead of waiting for a board its run mate holds."""
    pytester.makepyfile(test_devices=DEVICE_TESTS)
    result = pytester.runpytest(
        "-n", "2", "--device", "sim:speck2fmodule@SIM0001", "--hil-report", "hil.json"
    )
    result.assert_outcomes(passed=7)
    ran = _ran(pytester)
    assert len(ran) == 6 and {serial for _, serial, _ in ran} == {"SIM0001"}
    assert len({pid for _, _, pid in ran}) == 1
    workers = _record(pytester)["session"]["workers"].values()
    assert sorted(len(w["pool"]["leases"]) for w in workers) == [0, 1]
    # gw0 may see the lock taken before gw1 has told the run it holds the board, and start
    # waiting; it must stop as soon as it learns, not when its wait runs out
    shown = result.stdout.str()
    assert re.search(r"other workers of this run hold a board \(gw\d SIM0001\)", shown)
    assert "waited 60 s" not in shown
