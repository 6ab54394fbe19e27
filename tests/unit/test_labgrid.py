"""Sharing devkits through labgrid: a real coordinator and exporter on the loopback address,
exporting emulated devkits as ``SpeckDevkit`` places, and pytest sessions leasing them, one
place by name or a pool of places by tag."""

import json
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
TAG_POOL = "labgrid:board=speck2f"
ELSEWHERE = "lab-host-elsewhere"
#: Place, its exporter group (one devkit each) and its tags. speck-3's devkit is a real one,
#: which the exporter's host (``ELSEWHERE``) drives, so sessions on this host pass it over.
PLACES = {
    "speck-1": ("bench-1", {"board": "speck2f"}),
    "speck-2": ("bench-2", {"board": "speck2f"}),
    "speck-3": ("bench-3", {"board": "speck2f", "rack": "far"}),
}
EXPORTER_CONFIG = """
bench-1:
  SpeckDevkit:
    serial: SIM0001
    device_type: speck2fmodule
    emulated: true
bench-2:
  SpeckDevkit:
    serial: SIM0002
    emulated: true
bench-3:
  SpeckDevkit:
    serial: NOTHERE1
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


def test_a_labgrid_spec_names_a_place_or_a_pool_of_tagged_places():
    spec = parse_device_spec("labgrid:bench-3.lab")
    assert (spec.kind, spec.place, spec.pool) == ("labgrid", "bench-3.lab", False)
    spec = parse_device_spec("labgrid:rack=r3,board=speck2f")
    assert (spec.kind, spec.place, spec.pool) == ("labgrid", None, True)
    assert spec.place_tags == (("board", "speck2f"), ("rack", "r3"))
    with pytest.raises(DeviceSpecError, match="acquire it first"):
        open_device("labgrid:bench-3")


@pytest.mark.parametrize(
    "spec",
    [
        "labgrid:",
        "labgrid:board=",
        "labgrid:=x",
        "labgrid:Board=x",
        "labgrid:a=1,a=2",
        "labgrid:board=x,",
        "labgrid:board=x y",
        "labgrid:*",
    ],
)
def test_a_malformed_labgrid_spec_is_refused(spec):
    with pytest.raises(DeviceSpecError, match=r"malformed labgrid device .*labgrid:TAG=VALUE"):
        parse_device_spec(spec)


def test_a_malformed_labgrid_spec_is_one_line_of_a_session(pytester, monkeypatch):
    monkeypatch.delenv("HIL_DEVICE", raising=False)
    pytester.makepyfile("def test_x(speck): pass")
    result = pytester.runpytest_subprocess("--device", "labgrid:board=", "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: malformed labgrid device 'labgrid:board='")


def test_device_each_is_refused_for_labgrid_places(pytester, monkeypatch):
    monkeypatch.delenv("HIL_DEVICE", raising=False)
    pytester.makepyfile("def test_x(speck): pass")
    result = pytester.runpytest("--device", "labgrid:board=speck2f", "--device-each")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device-each runs on the boards of one host's pool*"])


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
    """labgrid's client session, in this process, to set up the places and watch them."""

    def __init__(self, address: str):
        self.session = start_session(address)

    def run(self, coroutine):
        return self.session.loop.run_until_complete(coroutine)

    def sync(self) -> None:
        self.run(self.session.sync_with_coordinator())

    def exported(self) -> bool:
        self.sync()
        groups = self.session.resources.get("bench", {})
        devkits = [groups.get(group, {}).get("SpeckDevkit") for group, _ in PLACES.values()]
        return all(devkits) and devkits[0].avail and devkits[1].avail

    def create_places(self) -> None:
        for place, (group, tags) in PLACES.items():
            self.run(self.session.stub.AddPlace(pb2.AddPlaceRequest(name=place)))
            pattern = f"bench/{group}/SpeckDevkit"
            match = pb2.AddPlaceMatchRequest(placename=place, pattern=pattern)
            self.run(self.session.stub.AddPlaceMatch(match))
            self.run(
                self.session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(placename=place, tags=tags))
            )
        self.sync()

    def holder(self, place: str = PLACE) -> str | None:
        self.sync()
        return self.session.places[place].acquired

    def all_released(self) -> bool:
        return all(self.holder(place) is None for place in PLACES)

    def close(self) -> None:
        self.run(self.session.stop())
        self.run(self.session.close())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A coordinator, an exporter of devkits and the places of ``PLACES``."""
    folder = tmp_path_factory.mktemp("lab")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "HIL_SIM_DEVKITS": "speck2fmodule@SIM0000,speck2fmodule@SIM0001,speck2fmodule@SIM0002",
        "LG_COORDINATOR": address,
        "PYTEST_ADDOPTS": "-p no:xdist -p no:benchmark -p no:hypothesispytest",
    }
    env.pop("HIL_DEVICE", None)
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
                "hil.lab.labgrid.exporter",
                "-c",
                address,
                "-n",
                "bench",
                "--hostname",
                ELSEWHERE,
                "exporter.yaml",
            ],
            cwd=folder,
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        client = Client(address)
        _until(client.exported, "the exported devkits")
        client.create_places()
        yield folder, client, env
        client.close()
    finally:
        for process in (exporter, coordinator):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
        for log in logs:
            log.close()


#: Sessions a test started; those still running when it ends (it failed) are killed.
STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_session_left():
    yield
    while STARTED:
        session = STARTED.pop()
        if session.poll() is None:
            session.kill()
            session.wait(timeout=60)


def _session(
    folder: Path, env: dict, name: str, *options: str, device: str = f"labgrid:{PLACE}"
) -> subprocess.Popen:
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--device", device, "-rs", *options, "test_hold.py"],
        cwd=folder,
        env={**env, "SESSION": name},
        stdout=(folder / f"{name}.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    STARTED.append(session)
    return session


def _started(folder: Path, name: str, session: subprocess.Popen) -> str:
    """The serial the session's device test runs on, once it runs."""
    running = folder / f"{name}-running"
    _until(lambda: running.exists() or session.poll() is not None, f"session {name}")
    assert running.exists(), (folder / f"{name}.out").read_text()
    return running.read_text()


@pytest.mark.slow
def test_a_second_session_waits_until_the_first_releases_the_place(lab):
    folder, client, env = lab
    (folder / "test_hold.py").write_text(HOLDING_TEST)
    first = _session(folder, env, "first", "--board-wait", "0")
    assert _started(folder, "first", first) == "SIM0001"
    (folder / "second-may-end").touch()
    second = _session(folder, env, "second", "--board-wait", "300")
    out = folder / "second.out"
    _until(lambda: "waiting up to 300 s" in out.read_text() or second.poll() is not None, "wait")
    assert not (folder / "second-running").exists()
    assert f"labgrid place {PLACE}" in out.read_text()
    assert "acquired by" in out.read_text()
    (folder / "first-may-end").touch()
    assert first.wait(timeout=300) == 0
    assert second.wait(timeout=300) == 0, out.read_text()
    assert (folder / "second-running").read_text() == "SIM0001"
    assert "leased SIM0001 (labgrid place speck-1) after waiting" in out.read_text()
    _until(client.all_released, "release")


@pytest.mark.slow
def test_sessions_over_a_tag_pool_get_distinct_places_and_a_third_waits_then_skips(lab):
    folder, client, env = lab
    (folder / "test_hold.py").write_text(HOLDING_TEST)
    holders = {
        name: _session(folder, env, name, "--board-wait", "0", device=TAG_POOL)
        for name in ("pool-a", "pool-b")
    }
    serials = {name: _started(folder, name, session) for name, session in holders.items()}
    assert sorted(serials.values()) == ["SIM0001", "SIM0002"]
    assert client.holder("speck-1") and client.holder("speck-2")
    third = _session(folder, env, "third", "--board-wait", "1", device=TAG_POOL)
    far = _session(folder, env, "far", "--board-wait", "0", device="labgrid:rack=far")
    nowhere = _session(folder, env, "nowhere", "--board-wait", "0", device="labgrid:board=none")
    for session in (third, far, nowhere):
        assert session.wait(timeout=300) == 0
    out = {name: (folder / f"{name}.out").read_text() for name in ("third", "far", "nowhere")}
    assert "every place of labgrid places tagged board=speck2f" in out["third"]
    assert "speck-1 (SIM0001) acquired by" in out["third"]
    assert "speck-2 (SIM0002) acquired by" in out["third"]
    assert "waiting up to 1 s" in out["third"]
    assert "1 skipped" in out["third"] and "waited 1 s" in out["third"]
    assert not (folder / "third-running").exists()
    assert "none can be driven from this host (speck-3: " in out["far"]
    assert f"devkit NOTHERE1 is plugged into {ELSEWHERE}, not this host" in out["far"]
    assert f"run the session on {ELSEWHERE}" in out["far"]
    assert "match no place (places: speck-1 [board=speck2f], " in out["nowhere"]
    assert "1 skipped" in out["far"] and "1 skipped" in out["nowhere"]
    for name, session in holders.items():
        (folder / f"{name}-may-end").touch()
        assert session.wait(timeout=300) == 0
        text = (folder / f"{name}.out").read_text()
        assert f"leased {serials[name]} (labgrid place speck-" in text
        assert "place speck-3 passed over: " in text
    _until(client.all_released, "release")


@pytest.mark.slow
def test_a_session_that_dies_releases_its_place(lab):
    folder, client, env = lab
    (folder / "test_hold.py").write_text(HOLDING_TEST)
    killed = _session(folder, env, "killed", "--board-wait", "0", device=TAG_POOL)
    assert _started(folder, "killed", killed) == "SIM0001"
    assert client.holder("speck-1") is not None
    killed.kill()
    killed.wait(timeout=60)
    _until(lambda: client.holder("speck-1") is None, "the place released after the session died")


BREAKING_CONFTEST = """
from hil.backends import DeviceUnavailable, open_device
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices


def pytest_hil_open_device(config, spec, profile):
    \"\"\"Board SIM0001 is pulled out of its USB port during its first replay.\"\"\"
    pulled = config.rootpath / "pulled"
    if spec.endswith("@SIM0001") and pulled.exists():
        raise DeviceUnavailable(spec, "not attached")
    device = open_device(spec, profile)
    if device.info.serial == "SIM0001":
        pulled.touch()
        emulated_devices.emulated_devkit("SIM0001").inject_faults(
            FaultPlan(disconnect_after_events=10)
        )
    return device
"""
REPLAYING_TESTS = (
    HOLDING_TEST.replace("def test_hold_the_board(speck):", "def hold(speck):")
    + """
import sinabs.layers as sl
import torch
from torch import nn

from hil.recordings import synthetic


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), sl.IAFSqueeze(batch_size=1))


def test_replay(speck):
    speck.deploy(tiny_net(), (2, 8, 8)).replay(synthetic.poisson(2_000, 0.05, size=(8, 8)))


def test_after(speck):
    assert speck.info.serial == "SIM0002"
    hold(speck)
"""
)


@pytest.mark.slow
def test_a_broken_board_keeps_its_place_and_the_session_moves_to_another(lab):
    folder, client, env = lab
    (folder / "conftest.py").write_text(BREAKING_CONFTEST)
    (folder / "test_hold.py").write_text(REPLAYING_TESTS)
    try:
        session = _session(folder, env, "breaking", "--hil-report", "hil.json", device=TAG_POOL)
        assert _started(folder, "breaking", session) == "SIM0002"
        # the broken board's place stays ours, so no other session is handed it
        assert client.holder("speck-1") is not None and client.holder("speck-2") is not None
        (folder / "breaking-may-end").touch()
        assert session.wait(timeout=300) == 1
    finally:
        (folder / "conftest.py").unlink()
    out = (folder / "breaking.out").read_text()
    assert "1 failed, 1 passed" in out
    assert "board SIM0001 quarantined" in out and "remaining tests run on SIM0002" in out
    pool = json.loads((folder / "hil.json").read_text())["session"]["pool"]
    assert [(x["serial"], x["place"]) for x in pool["leases"]] == [
        ("SIM0001", "speck-1"),
        ("SIM0002", "speck-2"),
    ]
    assert list(pool["quarantined"]) == ["SIM0001"]
    _until(client.all_released, "release")
