"""Leasing boards of a pool (``hil.lab.pool``): one lock per board, shared by every process."""

import os
import subprocess
import sys
import threading

import pytest

from hil.backends import DeviceSpecError, open_device, parse_device_spec
from hil.emulator.samna import device as emulated_devices
from hil.lab.pool import LOCK_DIR_ENV, BoardPool, NoBoardFree, default_lock_dir, pool_members


@pytest.fixture
def three_boards(monkeypatch):
    monkeypatch.setattr(emulated_devices, "_attached", None)
    monkeypatch.setattr(emulated_devices, "_opened", {})
    emulated_devices.attach_emulated_devkits(
        ["speck2fmodule@SIM0000", "speck2edevkit@SIM0001", "speck2fmodule@SIM0002"]
    )


@pytest.fixture
def pool(tmp_path):
    boards = [parse_device_spec(f"sim:speck2fmodule@SIM000{i}") for i in range(3)]
    return BoardPool("sim:speck2fmodule:*", boards, tmp_path / "locks")


def test_a_pool_spec_names_every_board_of_a_type():
    spec = parse_device_spec("sim:speck2fmodule:*")
    assert (spec.kind, spec.device_type, spec.pool) == ("emulated", "speck2fmodule", True)
    assert parse_device_spec("speck2fmodule:*").kind == "real"
    assert not parse_device_spec("sim:speck2fmodule:1").pool
    with pytest.raises(DeviceSpecError, match="TYPE:\\*"):
        parse_device_spec("speck2fmodule:?")


def test_a_pool_is_not_one_device():
    with pytest.raises(DeviceSpecError, match="not one board"):
        open_device("sim:speck2fmodule:*")


def test_pool_members_are_the_attached_boards_of_the_type_and_kind(three_boards):
    boards = pool_members(parse_device_spec("sim:speck2fmodule:*"))
    assert [str(b) for b in boards] == ["sim:speck2fmodule@SIM0000", "sim:speck2fmodule@SIM0002"]
    assert [b.serial for b in pool_members(parse_device_spec("sim:speck2edevkit:*"))] == ["SIM0001"]
    assert pool_members(parse_device_spec("speck2fmodule:*")) == []  # no real samna here


def test_each_lease_is_a_different_board_until_none_is_free(pool):
    leases = [pool.try_lease() for _ in range(3)]
    assert sorted(lease.serial for lease in leases) == ["SIM0000", "SIM0001", "SIM0002"]
    assert pool.try_lease() is None
    leases[1].release()
    assert pool.try_lease().serial == leases[1].serial


def test_a_second_pool_object_sees_the_same_locks(pool, tmp_path):
    """Two sessions build their own pools; the locks on disk are what they share."""
    held = pool.try_lease()
    other = BoardPool(pool.name, pool.boards, pool.lock_dir)
    assert other.try_lease(exclude=["SIM0001", "SIM0002"]) is None
    held.release()
    assert other.try_lease(exclude=["SIM0001", "SIM0002"]).serial == held.serial


def test_no_board_free_says_who_holds_each_after_the_bounded_wait(pool):
    held = [pool.try_lease() for _ in range(3)]
    said = []
    with pytest.raises(NoBoardFree) as info:
        pool.lease(0.3, on_wait=said.append)
    message = str(info.value)
    assert "every board of sim:speck2fmodule:* is taken" in message
    assert message.count(f"pid {os.getpid()}") == 3
    assert "waited 0.3 s" in message
    assert said == [said[0]] and "waiting up to 0.3 s" in said[0]
    assert all(lease.serial for lease in held)


def test_a_waiting_lease_gets_the_board_released_meanwhile(pool):
    held = [pool.try_lease() for _ in range(3)]
    release = threading.Timer(0.3, held[2].release)
    release.start()
    lease = pool.lease(30)
    release.join()
    assert lease.serial == held[2].serial
    assert lease.waited_s > 0


def test_quarantined_boards_are_never_leased(pool):
    held = pool.try_lease(exclude=["SIM0000", "SIM0001"])
    assert held.serial == "SIM0002"
    with pytest.raises(NoBoardFree, match="SIM0000 quarantined"):
        pool.lease(0, exclude=["SIM0000", "SIM0001"])
    with pytest.raises(NoBoardFree, match=r"every board of .* is quarantined"):
        pool.lease(5, exclude=pool.serials)


def test_an_empty_pool_says_so_at_once(tmp_path):
    with pytest.raises(NoBoardFree, match="no board of sim:speck2fmodule:\\* is attached"):
        BoardPool("sim:speck2fmodule:*", [], tmp_path).lease(30)


def test_a_process_that_dies_releases_its_board(pool):
    """The operating system drops the lock of a killed session: no stale lock to clean."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; "
            f"lock = FileLock({str(pool.lock_path(pool.boards[0]))!r}); lock.acquire(); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        assert pool.try_lease(exclude=["SIM0001", "SIM0002"]) is None
    finally:
        child.kill()
        child.wait(timeout=30)
    assert pool.try_lease(exclude=["SIM0001", "SIM0002"]).serial == "SIM0000"


def test_the_lock_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path / "lab"))
    assert default_lock_dir() == tmp_path / "lab"
    monkeypatch.delenv(LOCK_DIR_ENV)
    assert default_lock_dir().name == "speck-hil-locks"


def test_a_pool_run_keeps_one_history_series_per_board(tmp_path):
    """One run on a pool: each test's measurements belong to the board that measured them."""
    from hil.history.records import from_record
    from hil.history.store import HistoryStore
    from tests.unit.history_fixtures import run_record

    record = run_record([{"name": "delay_max", "value": 10.0}], serial="SIM0000")
    on_second_board = {**record["tests"][0], "nodeid": "tests/hil/test_net.py::test_other"}
    record["tests"] = [{**record["tests"][0], "serial": "SIM0002"}, on_second_board]
    with HistoryStore(str(tmp_path / "history.sqlite")) as store:
        store.append(from_record(record))
        serials = {(key.test.rpartition("::")[2], key.serial) for key in store.series()}
    assert serials == {("test_gesture", "SIM0002"), ("test_other", "SIM0000")}
