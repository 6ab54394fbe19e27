"""Sharing devkits through labgrid: a real coordinator and exporter on the loopback address,
exporting an emulated devkit as a ``SpeckDevkit`` place, and pytest sessions leasing it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labgrid.remote.client import start_session
from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

from hil.backends import DeviceSpecError, open_device, parse_device_spec

BIN = Path(sys.executable).parent
PLACE = "speck-1"
EXPORTER_CONFIG = """
bench-1:
  SpeckDevkit:
    serial: SIM0001
    device_type: speck2fmodule
    emulated: true
"""
HOLDING_TEST = """
import os, time
from pathlib import Path

HERE = Path(__file__).parent


def test_hold_the_board(speck):
    name = os.environ["SESSION"]
    (HERE / f"{name}-running").write_text(speck.info.serial)
    deadline = time.monotonic() + 300
    while not (HERE / f"{name}-may-end").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def test_a_labgrid_spec_names_a_place():
    spec = parse_device_spec("labgrid:bench-3.lab")
    assert (spec.kind, spec.place) == ("labgrid", "bench-3.lab")
    with pytest.raises(DeviceSpecError, match="labgrid:PLACE"):
        parse_device_spec("labgrid:")
    with pytest.raises(DeviceSpecError, match="acquire it first"):
        open_device("labgrid:bench-3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _until(condition, what: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Client:
    """labgrid's client session, in this process, to set up the place and watch it."""

    def __init__(self, address: str):
        self.session = start_session(address)

    def run(self, coroutine):
        return self.session.loop.run_until_complete(coroutine)

    def sync(self) -> None:
        self.run(self.session.sync_with_coordinator())

    def exported(self) -> bool:
        self.sync()
        entry = self.session.resources.get("bench", {}).get("bench-1", {}).get("SpeckDevkit")
        return entry is not None and entry.avail

    def create_place(self) -> None:
        self.run(self.session.stub.AddPlace(pb2.AddPlaceRequest(name=PLACE)))
        match = pb2.AddPlaceMatchRequest(placename=PLACE, pattern="bench/bench-1/SpeckDevkit")
        self.run(self.session.stub.AddPlaceMatch(match))
        self.sync()

    def holder(self) -> str | None:
        self.sync()
        return self.session.places[PLACE].acquired

    def close(self) -> None:
        self.run(self.session.stop())
        self.run(self.session.close())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A coordinator, an exporter of emulated devkit SIM0001 and the place ``speck-1``."""
    folder = tmp_path_factory.mktemp("lab")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "HIL_SIM_DEVKITS": "speck2fmodule,speck2fmodule",
        "LG_COORDINATOR": address,
        "PYTEST_ADDOPTS": "-p no:xdist -p no:benchmark -p no:hypothesispytest",
    }
    (folder / "exporter.yaml").write_text(EXPORTER_CONFIG)
    logs = (folder / "coordinator.log").open("w"), (folder / "exporter.log").open("w")
    coordinator = subprocess.Popen(
        [str(BIN / "labgrid-coordinator"), "-l", address],
        cwd=folder,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    exporter = None
    try:
        _until(lambda: _listening(port), "the coordinator")
        exporter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hil.labgrid_exporter",
                "-c",
                address,
                "-n",
                "bench",
                "exporter.yaml",
            ],
            cwd=folder,
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        client = Client(address)
        _until(client.exported, "the exported devkit")
        client.create_place()
        yield folder, client, env
        client.close()
    finally:
        for process in (exporter, coordinator):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
        for log in logs:
            log.close()


def _session(folder: Path, env: dict, name: str, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--device", f"labgrid:{PLACE}", *options, "test_hold.py"],
        cwd=folder,
        env={**env, "SESSION": name},
        stdout=(folder / f"{name}.out").open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_a_second_session_waits_until_the_first_releases_the_place(lab):
    folder, client, env = lab
    (folder / "test_hold.py").write_text(HOLDING_TEST)
    first = _session(folder, env, "first", "--board-wait", "0")
    _until(lambda: (folder / "first-running").exists() or first.poll() is not None, "first")
    assert (folder / "first-running").read_text() == "SIM0001"
    (folder / "second-may-end").touch()
    second = _session(folder, env, "second", "--board-wait", "300")
    out = folder / "second.out"
    _until(lambda: "waiting up to 300 s" in out.read_text() or second.poll() is not None, "wait")
    assert not (folder / "second-running").exists()
    assert f"labgrid place {PLACE}" in out.read_text()
    (folder / "first-may-end").touch()
    assert first.wait(timeout=300) == 0
    assert second.wait(timeout=300) == 0, out.read_text()
    assert (folder / "second-running").read_text() == "SIM0001"
    assert "leased SIM0001 after waiting" in out.read_text()
    _until(lambda: client.holder() is None, "release")


@pytest.mark.slow
def test_a_session_that_dies_releases_the_place(lab):
    folder, client, env = lab
    (folder / "test_hold.py").write_text(HOLDING_TEST)
    killed = _session(folder, env, "killed", "--board-wait", "0")
    _until(lambda: (folder / "killed-running").exists() or killed.poll() is not None, "start")
    assert client.holder() is not None
    killed.kill()
    killed.wait(timeout=60)
    _until(lambda: client.holder() is None, "the place released after the session died")
