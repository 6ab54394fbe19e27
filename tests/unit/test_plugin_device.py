"""The ``speck`` fixture: device scope, clean state, markers, a missing devkit, recovery,
replay artifacts.

A conftest stands in a fake device through the ``pytest_hil_open_device`` hook. Its plan (an
environment variable) says how often it fails: ``replay_failures`` replays raise a
``DeviceError`` (``payload_failures``: only replays with events, so the device still answers
a barrier read); after a failure, the next ``reset_failures`` resets raise too; opens beyond
``max_opens`` raise ``DeviceUnavailable``. Every open, close, reset and replay is logged to
``device.log`` so the tests can count them.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from hil import recordings
from hil.events import EVENT_DTYPE, SPIKE_DTYPE
from hil.plugin.artifacts import ArtifactError, load_spikes, save_spikes

FAKE_CONFTEST = """
import json, os, time
from pathlib import Path

import numpy as np

from hil.backends import parse_device_spec
from hil.backends.base import Deployment, Device, DeviceError, DeviceInfo, DeviceUnavailable, Run
from hil.chip.profile import load_profile
from hil.events import EVENT_DTYPE, SPIKE_DTYPE

LOG = Path(__file__).parent / "device.log"
PLAN = {"replay_failures": 0, "payload_failures": 0, "reset_failures": 0, "max_opens": 99}
PLAN.update(json.loads(os.environ.get("FAKE_DEVICE", "{}")))
STATE = {"opens": 0, "sick": False}
EVENTS = np.zeros(3, dtype=EVENT_DTYPE)


def log(what):
    with LOG.open("a") as f:
        f.write(what + "\\n")


class FakeMapping:
    input_shape = (2, 4, 4)
    monitored_cores = (0,)
    layer2core = {0: 0}
    config_hash = "fake"

    def input_spikes(self, events, source="events"):
        spikes = np.zeros(len(events), dtype=SPIKE_DTYPE)
        for chip, sensor in (("x", "x"), ("y", "y"), ("feature", "p"), ("t", "t")):
            spikes[chip] = events[sensor]
        return spikes


class FakeDevice(Device):
    def __init__(self, spec):
        STATE["opens"] += 1
        if STATE["opens"] > PLAN["max_opens"]:
            raise DeviceUnavailable(spec, "fake devkit unplugged")
        log("open")
        self.profile = load_profile("speck2f")
        self.info = DeviceInfo(
            kind=parse_device_spec(spec).kind,
            device_type="speck2fmodule",
            serial=f"FAKE{STATE['opens']}",
            samna_version="fake-1.0",
            profile="fake profile",
        )

    def deploy(self, net=None, input_shape=(2, 4, 4), reset="subtract", **options):
        return Deployment(device=self, mapping=FakeMapping(), reset_mode=reset)

    def _apply(self, deployment, slow_clk_hz):
        pass

    def _reset_states(self, deployment):
        log("reset")
        if STATE["sick"] and PLAN["reset_failures"] > 0:
            PLAN["reset_failures"] -= 1
            raise DeviceError(str(self.info), "reset not acknowledged")

    def _replay(self, deployment, inputs, timeout_s):
        log("replay")
        if PLAN["replay_failures"] > 0 or (len(inputs) and PLAN["payload_failures"] > 0):
            PLAN["replay_failures" if PLAN["replay_failures"] > 0 else "payload_failures"] -= 1
            STATE["sick"] = True
            partial = Run(inputs, np.zeros(0, SPIKE_DTYPE), deployment, time.time(), 0.0)
            raise DeviceError(str(self.info), "stopped answering", partial)
        outputs = np.zeros(len(inputs), dtype=SPIKE_DTYPE)
        outputs["t"] = inputs["t"] + 5
        return outputs

    def close(self):
        log("close")


def pytest_hil_open_device(config, spec, profile):
    return FakeDevice(spec)
"""

DEVICE_TESTS = """
from conftest import EVENTS

def test_one(speck):
    speck.deploy().replay(EVENTS)

def test_two(speck):
    speck.deploy().replay(EVENTS)

def test_three(speck):
    speck.deploy().replay(EVENTS)

def test_without_device():
    pass
"""


@pytest.fixture(autouse=True)
def _lean_inner_runs(pytester, monkeypatch):
    """Inner sessions without the plugins these tests do not need: ten times faster.
    (After ``pytester``, which clears PYTEST_ADDOPTS.)"""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")


@pytest.fixture
def fake(pytester, monkeypatch):
    pytester.makeconftest(FAKE_CONFTEST)
    monkeypatch.delenv("FAKE_DEVICE", raising=False)
    for name in ("HIL_DEVICE", "HIL_DEVICE_SCOPE", "HIL_REQUIRE_DEVICE", "HIL_PROFILE"):
        monkeypatch.delenv(name, raising=False)

    def plan(**failures):
        monkeypatch.setenv("FAKE_DEVICE", json.dumps(failures))

    pytester.plan = plan
    pytester.log = lambda: (pytester.path / "device.log").read_text().split()
    return pytester


def _record(pytester) -> dict:
    return json.loads((pytester.path / "hil.json").read_text())


def _tests(pytester) -> dict:
    return {t["nodeid"].split("::")[-1]: t for t in _record(pytester)["tests"]}


# -- scope and clean state ------------------------------------------------------------------


@pytest.mark.parametrize(("scope", "opens"), [("session", 1), ("module", 2), ("function", 3)])
def test_device_scope_sets_how_often_the_device_is_opened(fake, scope, opens):
    fake.makepyfile(
        test_a="from conftest import EVENTS\n"
        "def test_1(speck): speck.deploy().replay(EVENTS)\n"
        "def test_2(speck): speck.deploy().replay(EVENTS)\n",
        test_b="from conftest import EVENTS\ndef test_3(speck): speck.deploy().replay(EVENTS)\n",
    )
    fake.runpytest("--device-scope", scope).assert_outcomes(passed=3)
    log = fake.log()
    assert log.count("open") == opens
    assert log.count("close") == opens


def test_each_replayed_deployment_is_reset_when_its_test_ends(fake):
    fake.makepyfile(
        """
        from conftest import EVENTS, LOG

        def test_two_deployments(speck):
            speck.deploy().replay(EVENTS)
            speck.deploy().replay(EVENTS)
            speck.deploy()  # never replayed: holds no state

        def test_next_starts_clean():
            lines = LOG.read_text().split()
            # open, then reset+replay twice (replay starts from zeroed states), then the
            # clean-up reset of both replayed deployments; closed before this test
            assert lines == [
                "open", "reset", "replay", "reset", "replay", "reset", "reset", "close"
            ]
        """
    )
    fake.runpytest().assert_outcomes(passed=2)


def test_the_device_is_released_before_a_test_that_does_not_use_it(fake):
    fake.makepyfile(
        """
        from conftest import EVENTS, LOG

        def test_device(speck):
            speck.deploy().replay(EVENTS)

        def test_opens_the_device_itself():
            assert LOG.read_text().split()[-1] == "close"

        def test_device_again(speck):
            pass
        """
    )
    fake.runpytest().assert_outcomes(passed=3)
    assert fake.log().count("open") == 2


def test_header_names_the_device_that_ran(fake):
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("--device", "sinabs")
    result.stdout.fnmatch_lines(
        [
            "speck-hil: --device sinabs (sinabs), scope session, profile *speck2f.toml",
            "speck-hil device: speck2fmodule@FAKE1 — kind sinabs, type speck2fmodule, "
            "serial FAKE1, samna fake-1.0, profile fake profile",
        ]
    )


def test_device_profile_fixture_is_the_devices_profile(pytester, tmp_path):
    override = tmp_path / "lab.toml"
    override.write_text(
        "[timing]\nsynops_per_s = [1.0e6, 1e5, 1e5, 1e5, 1e5, 1e5, 1e5, 1e5, 1e5]\n"
    )
    pytester.makepyfile(
        """
        def test_profile(device_profile):
            assert device_profile.synops_per_s[0] == 1.0e6
            assert device_profile.source.endswith("lab.toml")
        """
    )
    pytester.runpytest("--device", "sinabs", "--profile", str(override)).assert_outcomes(passed=1)


# -- no devkit ----------------------------------------------------------------------------


def test_missing_devkit_skips_device_tests_and_says_how_to_list_devices(pytester):
    pytester.makepyfile(
        """
        def test_on_device(speck):
            pass

        def test_not_on_device():
            pass
        """
    )
    result = pytester.runpytest("--device", "speck2fmodule", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "speck-hil device: NOT OPENED, device tests will not run: no devkit found*",
            "SKIPPED * no devkit found (--device speck2fmodule): *"
            "`speck-hil devices` lists the devices this machine can open",
        ]
    )


def test_require_device_makes_a_missing_devkit_a_session_error(pytester):
    pytester.makepyfile("def test_on_device(speck):\n    pass\n")
    result = pytester.runpytest("--device", "speck2fmodule", "--require-device")
    assert result.ret != 0
    errors = [line for line in result.stderr.lines if line.startswith("ERROR")]
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: --require-device: no devkit found (--device speck2fmodule)")
    result.assert_outcomes()


def test_require_device_from_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("HIL_REQUIRE_DEVICE", "yes")
    pytester.makepyfile("def test_on_device(speck):\n    pass\n")
    result = pytester.runpytest("--device", "speck2fmodule")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_an_unknown_device_is_a_usage_error(pytester):
    result = pytester.runpytest("--device", "speck9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown device 'speck9'; devices are*"])


# -- markers --------------------------------------------------------------------------------

MARKED = """
import pytest

@pytest.mark.hardware
def test_needs_chip(speck):
    pass

@pytest.mark.device("speck2f*")
def test_on_speck2f():
    pass

@pytest.mark.device("speck2e*", "speck3*")
def test_on_speck2e():
    pass
"""


@pytest.mark.parametrize("device", ["sinabs", "sim"])
def test_hardware_marker_skips_on_emulated_and_software_devices(fake, device):
    fake.makepyfile(MARKED)
    result = fake.runpytest("--device", device, "-rs", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=2)
    kind = "sinabs" if device == "sinabs" else "emulated"
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED * needs a real chip; --device {device} is {kind}",
            f"SKIPPED * runs only on speck2e* or speck3*; --device {device} is a speck2fmodule",
        ]
    )


def test_markers_select_a_real_devkit(fake):
    fake.makepyfile(MARKED)
    result = fake.runpytest("--device", "speck2edevkit", "--strict-markers")
    result.assert_outcomes(passed=2, skipped=1)


# -- recovery -------------------------------------------------------------------------------


def test_a_device_error_fails_the_test_and_a_soft_reset_recovers(fake):
    fake.plan(replay_failures=1)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("--hil-report", "hil.json")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*DeviceError: speck2fmodule@FAKE1: stopped answering"])
    tests = _tests(fake)
    assert tests["test_one"]["device_error"] == "speck2fmodule@FAKE1: stopped answering"
    assert tests["test_one"]["recovery"].endswith("recovered by a soft reset (the device answered)")
    assert fake.log().count("open") == 1


def test_a_device_error_is_in_the_tally_and_leads_the_short_summary_line(fake, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    fake.plan(replay_failures=1)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("-rf")
    result.stdout.fnmatch_lines(
        [
            "device error speck2fmodule@FAKE1: stopped answering (in *::test_one); recovered *",
            "0 measurements: none; 1 test ended by a device error (not all measured)",
            "FAILED *::test_one - DeviceError: speck2fmodule@FAKE1: stopped answering",
        ]
    )


def test_when_a_soft_reset_fails_the_device_is_reopened(fake):
    fake.plan(replay_failures=1, reset_failures=1)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("--hil-report", "hil.json")
    result.assert_outcomes(passed=3, failed=1)
    assert _tests(fake)["test_one"]["recovery"].endswith(
        "recovered by closing and re-opening the device (the device answered)"
    )
    assert fake.log().count("open") == 2
    assert _record(fake)["session"]["device"]["serial"] == "FAKE2"


def test_a_device_that_cannot_be_recovered_is_broken_and_later_tests_skip(fake):
    fake.plan(replay_failures=1, reset_failures=1, max_opens=1)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("--hil-report", "hil.json", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * device broken earlier in this session: speck2fmodule@FAKE1: stopped "
            "answering (in test_*.py::test_one); soft reset (*reset not acknowledged) and "
            "re-open (*fake devkit unplugged) failed",
        ]
    )
    assert fake.log() == ["open", "reset", "replay", "reset", "close"]
    assert _tests(fake)["test_three"]["outcome"] == "skipped"


def test_a_broken_device_errors_the_remaining_tests_under_require_device(fake):
    fake.plan(replay_failures=1, reset_failures=1, max_opens=1)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("--require-device")
    result.assert_outcomes(passed=1, failed=1, errors=2)


def test_a_silent_device_is_broken_after_one_failed_test(fake):
    """A soft reset needs no reply: "recovered" must mean the device answered afterwards."""
    fake.plan(replay_failures=99)
    fake.makepyfile(DEVICE_TESTS)
    result = fake.runpytest("-rs", "--hil-report", "hil.json")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED * soft reset (*stopped answering) and re-open (*stopped answering) failed"]
    )
    assert "recovered" not in (_tests(fake)["test_one"]["recovery"] or "")


def test_a_device_failing_test_after_test_is_broken_after_three(fake):
    fake.plan(payload_failures=99)
    fake.makepyfile(DEVICE_TESTS + "\ndef test_four(speck):\n    speck.deploy().replay(EVENTS)\n")
    result = fake.runpytest("-rs")
    result.assert_outcomes(passed=1, failed=3, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * 3 device tests in a row failed"])


# -- artifacts --------------------------------------------------------------------------------


def test_each_replay_is_saved_as_loadable_artifacts(fake):
    fake.plan(replay_failures=1)
    fake.makepyfile(
        """
        import numpy as np
        from hil.events import EVENT_DTYPE

        def test_replays(speck):
            events = np.zeros(4, dtype=EVENT_DTYPE)
            events["t"] = [10, 20, 30, 40]
            events["x"] = [0, 1, 2, 3]
            chip = speck.deploy()
            try:
                chip.replay(events)  # fails: its partial run is saved too
            except Exception:
                pass
            chip.replay(events)
        """
    )
    fake.runpytest("--hil-artifacts", "art", "--hil-report", "hil.json").assert_outcomes(passed=1)
    artifacts = [Path(p) for p in _tests(fake)["test_replays"]["artifacts"]]
    assert [p.name for p in artifacts] == [
        "run0-inputs.h5",
        "run0-outputs.h5",
        "run1-inputs.h5",
        "run1-outputs.h5",
    ]
    assert (
        artifacts[0].parent
        == fake.path / "art" / "test_each_replay_is_saved_as_loadable_artifacts.py_test_replays"
    )
    inputs = recordings.load(artifacts[2])
    assert inputs.sensor_size == (4, 4, 2)
    assert inputs.events["x"].tolist() == [0, 1, 2, 3]
    outputs = load_spikes(artifacts[3])
    assert outputs.dtype == SPIKE_DTYPE
    assert outputs["t"].tolist() == [15, 25, 35, 45]
    assert len(load_spikes(artifacts[1])) == 0


def test_spikes_files_round_trip_and_refuse_other_files(tmp_path):
    spikes = np.zeros(3, dtype=SPIKE_DTYPE)
    spikes["layer"], spikes["feature"], spikes["t"] = [0, 1, 8], [2, 3, 600], [1, 2, 2**40]
    path = save_spikes(tmp_path / "out.h5", spikes, device="lab-3")
    assert np.array_equal(load_spikes(path), spikes)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    recordings.save(tmp_path / "rec.h5", np.zeros(1, dtype=EVENT_DTYPE), sensor_size=(1, 1, 1))
    with pytest.raises(ArtifactError, match=r"rec\.h5: not a speck-hil spikes file"):
        load_spikes(tmp_path / "rec.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ArtifactError, match=r"junk\.h5: cannot be read as HDF5"):
        load_spikes(tmp_path / "junk.h5")
