"""The plugin's options, the ``recording`` and ``measure`` fixtures, the run record, the
JUnit properties and the terminal summary. Device handling: test_plugin_device.py."""

import json
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hil.measurement import Measure, Measurement, Outcome, failure_report, judge

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _lean_inner_runs(pytester, monkeypatch):
    """Inner sessions without the plugins these tests do not need: ten times faster.
    (After ``pytester``, which clears PYTEST_ADDOPTS.)"""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    for name in ("HIL_DEVICE", "HIL_DEVICE_SCOPE", "HIL_REQUIRE_DEVICE", "HIL_PROFILE"):
        monkeypatch.delenv(name, raising=False)


SHOW_DIR = """
def test_show(recordings_dir):
    print("DIR=" + recordings_dir.name)
"""


@pytest.fixture
def library(pytester):
    for name in ("cli_dir", "env_dir", "ini_dir", "recordings"):
        shutil.copytree(REPO / "recordings", pytester.path / name)
    pytester.makeini("[pytest]\nhil_recordings = ini_dir\n")
    pytester.makepyfile(SHOW_DIR)
    return pytester


def _shown(result) -> str:
    return re.search(r"DIR=(\w+)", result.stdout.str()).group(1)


def test_option_precedence(library, monkeypatch):
    assert _shown(library.runpytest("-s")) == "ini_dir"
    monkeypatch.setenv("HIL_RECORDINGS", "env_dir")
    assert _shown(library.runpytest("-s")) == "env_dir"
    assert _shown(library.runpytest("-s", "--recordings", "cli_dir")) == "cli_dir"


def test_default_is_recordings(pytester):
    pytester.makepyfile(SHOW_DIR)
    assert _shown(pytester.runpytest("-s")) == "recordings"


def test_recording_fixture_by_name_and_path(library):
    library.makepyfile(
        test_load="""
        def test_load(recording):
            assert len(recording("moving_bar_128")) > 1000
            assert recording("ini_dir/poisson_34.h5").sensor_size == (34, 34, 2)
        """
    )
    library.runpytest("test_load.py").assert_outcomes(passed=1)


def test_recording_fixture_refuses_a_changed_file(library):
    (library.path / "ini_dir" / "poisson_34.h5").write_bytes(
        (library.path / "ini_dir" / "burst_128.h5").read_bytes()
    )
    library.makepyfile(
        test_load="""
        def test_load(recording):
            recording("poisson_34")
        """
    )
    result = library.runpytest("test_load.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*poisson_34.h5: sha256 mismatch*"])


def test_options_are_documented_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*speck-hil*", "*--recordings*"])
    text = result.stdout.str()
    for flag, env in [
        ("--device", "HIL_DEVICE"),
        ("--require-device", "HIL_REQUIRE_DEVICE"),
        ("--device-scope", "HIL_DEVICE_SCOPE"),
        ("--recordings", "HIL_RECORDINGS"),
        ("--hil-report", "HIL_REPORT"),
        ("--hil-artifacts", "HIL_ARTIFACTS"),
        ("--profile", "HIL_PROFILE"),
    ]:
        assert flag in text
        assert env in text


def _header_device(result) -> str:
    return re.search(r"speck-hil: --device (\S+)", result.stdout.str()).group(1)


def test_device_option_precedence(pytester, monkeypatch):
    pytester.makepyfile("def test_nothing(): pass")
    assert _header_device(pytester.runpytest()) == "sim"
    pytester.makeini("[pytest]\nhil_device = sim:speck2edevkit\n")
    assert _header_device(pytester.runpytest()) == "sim:speck2edevkit"
    monkeypatch.setenv("HIL_DEVICE", "speck2fmodule:1")
    assert _header_device(pytester.runpytest()) == "speck2fmodule:1"
    assert _header_device(pytester.runpytest("--device", "sinabs")) == "sinabs"


def test_scope_and_flag_values_are_checked(pytester, monkeypatch):
    result = pytester.runpytest("--device-scope", "forever")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --device-scope 'forever' (from cli): expected one of session, module, function"]
    )
    monkeypatch.setenv("HIL_REQUIRE_DEVICE", "maybe")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: HIL_REQUIRE_DEVICE='maybe': expected one of 1, true*"])


def test_a_missing_profile_file_is_a_usage_error(pytester):
    result = pytester.runpytest("--profile", "nowhere.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: *nowhere.toml: cannot read the device profile: no such file"]
    )


# -- measurements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (0.0, Outcome.FAIL),
        (1.0, Outcome.MARGINAL),  # limits are inclusive
        (1.5, Outcome.MARGINAL),  # inside the band beside the lower limit
        (1.6, Outcome.PASS),
        (8.5, Outcome.MARGINAL),
        (10.0, Outcome.MARGINAL),
        (10.01, Outcome.FAIL),
        (math.nan, Outcome.FAIL),
        (math.inf, Outcome.FAIL),
    ],
)
def test_judge_limits_and_marginal_band(value, outcome):
    assert judge(value, lower=1.0, upper=10.0, marginal=0.5 + 1.0 * (value > 5)) == outcome


def test_one_sided_and_absent_limits():
    assert judge(5, lower=1) is Outcome.PASS
    assert judge(-math.inf, upper=0) is Outcome.PASS
    assert judge(0.5, lower=1) is Outcome.FAIL
    assert judge(math.nan) is Outcome.FAIL
    assert judge(3) is Outcome.PASS


def test_measurement_text_record_and_checks():
    m = Measurement("delay", np.float64(1250.0), "µs", upper=1000)
    assert m.failed
    assert str(m) == "delay: 1250 µs, limit x ≤ 1000"
    assert type(m.value) is float
    record = Measurement("rate", np.int64(7), "ev/s", lower=1, upper=9, marginal=2).as_dict()
    assert record == {
        "name": "rate",
        "value": 7,
        "unit": "ev/s",
        "lower": 1,
        "upper": 9,
        "marginal": 2,
        "limit": "1 ≤ x ≤ 9",
        "outcome": "marginal",
        "note": "",
        "better": None,
    }
    assert Measurement("x", math.nan, upper=1).as_dict()["value"] == "nan"
    assert json.dumps(Measurement("x", -math.inf).as_dict())
    with pytest.raises(ValueError, match="lower limit 2 is above upper 1"):
        Measurement("x", 1, lower=2, upper=1)
    with pytest.raises(ValueError, match="a marginal band needs a limit"):
        Measurement("x", 1, marginal=0.1)
    with pytest.raises(TypeError, match="value must be a number"):
        Measurement("x", "fast")


def test_measure_keeps_every_measurement_and_lists_failures():
    measure = Measure()
    measure("a", 1, lower=0)
    measure("b", -1, "V", lower=0)
    measure.add(Measurement("c", math.nan, "s", lower=0, upper=1))
    assert [m.name for m in measure] == ["a", "b", "c"]
    assert [m.name for m in measure.failures] == ["b", "c"]
    assert failure_report(list(measure)) == (
        "2 of 3 measurements out of limits:\n  b: -1 V, limit 0 ≤ x\n  c: nan s, limit 0 ≤ x ≤ 1"
    )


MEASURED = """
import math

def test_measured(measure):
    measure("events_out", 0, "events", lower=1)
    measure("latency", math.nan, "µs", upper=100)
    measure("wall", 0.95, "s", upper=1.0, marginal=0.1)
    measure("cores", 2, "cores", lower=1, upper=9)

def test_marginal(measure):
    measure("wall", 0.95, "s", upper=1.0, marginal=0.1)

def test_plain():
    pass
"""


def _record(pytester) -> dict:
    return json.loads((pytester.path / "hil.json").read_text())


def test_a_failed_measurement_fails_its_test_at_the_end(pytester):
    pytester.makepyfile(MEASURED)
    result = pytester.runpytest("--hil-report", "hil.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_measured _*",
            "2 of 4 measurements out of limits:",
            "  events_out: 0 events, limit 1 ≤ x",
            "  latency: nan µs, limit x ≤ 100",
        ]
    )
    tests = {t["nodeid"]: t for t in _record(pytester)["tests"]}
    measured = tests["test_a_failed_measurement_fails_its_test_at_the_end.py::test_measured"]
    assert measured["outcome"] == "failed"
    assert [(m["name"], m["outcome"]) for m in measured["measurements"]] == [
        ("events_out", "fail"),
        ("latency", "fail"),
        ("wall", "marginal"),
        ("cores", "pass"),
    ]
    marginal = tests["test_a_failed_measurement_fails_its_test_at_the_end.py::test_marginal"]
    assert marginal["outcome"] == "passed"
    assert marginal["measurements"][0]["outcome"] == "marginal"


def test_terminal_summary_lists_failures_first(pytester):
    pytester.makepyfile(MEASURED)
    result = pytester.runpytest("--hil-summary", "all")
    result.stdout.fnmatch_lines(
        [
            "*= speck-hil =*",
            "test * measurement * value * limit * outcome",
            "*::test_measured * events_out * 0 events * 1 ≤ x * fail",
            "*::test_measured * latency * nan µs * x ≤ 100 * fail",
            "*::test_measured * wall * 0.95 s * x ≤ 1 * marginal",
            "*::test_marginal * wall * 0.95 s * x ≤ 1 * marginal",
            "*::test_measured * cores * 2 cores * 1 ≤ x ≤ 9 * pass",
            "5 measurements: 2 fail, 2 marginal, 1 pass",
        ]
    )


def test_an_assertion_and_a_failed_measurement_give_one_failure(pytester):
    pytester.makepyfile(
        """
        def test_both(measure):
            measure("events_out", 0, "events", lower=1)
            assert False, "the test's own check"
        """
    )
    result = pytester.runpytest("--hil-report", "hil.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the test's own check"])
    (test,) = _record(pytester)["tests"]
    assert test["measurements"][0]["outcome"] == "fail"


def test_a_measurement_failing_in_a_fixture_teardown_is_an_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def drained(measure):
            yield
            measure("drain", 9000, "µs", upper=5000)

        def test_late(drained):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["  drain: 9000 µs, limit x ≤ 5000"])


def test_measurements_are_junit_properties(pytester):
    pytester.makepyfile(MEASURED)
    pytester.runpytest("--junitxml", "junit.xml")
    root = ET.parse(pytester.path / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "test_measured")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties == {
        "events_out": "0",
        "events_out.lower": "1",
        "events_out.unit": "events",
        "events_out.outcome": "fail",
        "latency": "nan",
        "latency.upper": "100",
        "latency.unit": "µs",
        "latency.outcome": "fail",
        "wall": "0.95",
        "wall.upper": "1.0",
        "wall.unit": "s",
        "wall.outcome": "marginal",
        "cores": "2",
        "cores.lower": "1",
        "cores.upper": "9",
        "cores.unit": "cores",
        "cores.outcome": "pass",
    }
    for name, value in properties.items():
        if "." not in name or name.endswith((".lower", ".upper")):
            float(value)  # every value and limit is a number a dashboard can plot


def test_run_record_session_fields(pytester):
    pytester.makepyfile(MEASURED)
    pytester.runpytest("--hil-report", "out/hil.json")
    record = json.loads((pytester.path / "out" / "hil.json").read_text())
    assert record["format"] == "speck-hil run record"
    session = record["session"]
    assert session["device_spec"] == "sim"
    assert session["device"] is None  # no test used it, so it was never opened
    assert session["git_commit"] is None  # not a git work tree
    assert session["exitstatus"] == 1
    assert session["started"] <= session["ended"]
    assert [t["outcome"] for t in record["tests"]] == ["failed", "passed", "passed"]
    assert all(t["duration_s"] >= 0 for t in record["tests"])


def test_run_record_keeps_finished_tests_when_the_interpreter_dies(pytester):
    pytester.makepyfile(
        """
        import os

        def test_first(measure):
            measure("events_out", 12, "events", lower=1)

        def test_crash():
            os._exit(3)

        def test_never_runs():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--hil-report", "hil.json")
    assert result.ret == 3
    record = _record(pytester)
    assert [t["nodeid"].split("::")[1] for t in record["tests"]] == ["test_first"]
    assert record["tests"][0]["measurements"][0]["value"] == 12
    assert record["session"]["ended"] is None
    assert [p.name for p in pytester.path.iterdir() if p.name.startswith(".hil.json")] == []


def test_plugin_can_be_disabled(library):
    result = library.runpytest("-p", "no:hil")
    result.stdout.fnmatch_lines(["*fixture 'recordings_dir' not found*"])
