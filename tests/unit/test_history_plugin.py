"""The history in a pytest session: provenance in the run record, the run appended, this run
against history at the end of the summary, --hil-fail-on-regression, a store that fails."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3  # noqa: F401 (see below)
from pathlib import Path

import psycopg  # noqa: F401
import pytest
from history_fixtures import run_record

from hil.history.records import from_record
from hil.history.store import HistoryStore
from hil.history.synthetic import history

# The inner sessions open stores. Their database drivers are imported above, before any
# pytester session: one would forget a driver it imported first, and a second import of a C
# driver leaves SQLAlchemy unable to recognise the driver's errors (an unreachable server
# would then escape as a traceback instead of one line).

REPO = Path(__file__).resolve().parents[2]

LATENCY = """
import os

def test_speed(measure):
    measure("latency", float(os.environ["LATENCY"]), "ms", upper=200)
"""

DEVICE_TEST = """
from hil.examples import INPUT_SHAPE_34, scnn_34

def test_replay(speck, recording, measure):
    chip = speck.deploy(scnn_34(), input_shape=INPUT_SHAPE_34)
    run = chip.replay(recording("poisson_34"))
    measure("events_out", len(run.outputs), "events", lower=1, better="higher")
"""


@pytest.fixture(autouse=True)
def _lean_inner_runs(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    for name in ("HIL_DEVICE", "HIL_PROFILE", "HIL_HISTORY", "HIL_FAIL_ON_REGRESSION"):
        monkeypatch.delenv(name, raising=False)


def _past(db: Path, nights: int = 40, upper: float | None = 200, then: list = ()) -> None:
    """Forty quiet nights of test_speed.py::test_speed's latency around 100 ms, then the
    values ``then``."""
    values = [*history("noise", seed=11)[:nights], *then]
    with HistoryStore(str(db)) as store:
        for night, value in enumerate(values):
            record = run_record(
                [{"name": "latency", "value": float(value), "unit": "ms", "upper": upper}],
                night,
                test="test_speed.py::test_speed",
                serial="",
            )
            record["session"]["device"] = None
            store.append(from_record(record))


@pytest.mark.slow
def test_a_new_regression_ends_the_summary_and_fails_the_night(pytester, monkeypatch):
    db = pytester.path / "history.sqlite"
    _past(db, then=[130.0])  # forty quiet nights, then one slow one
    pytester.makepyfile(test_speed=LATENCY)
    monkeypatch.setenv("LATENCY", "130")  # still slow
    second, third = [pytester.runpytest("--hil-history", "history.sqlite") for _ in range(2)]
    assert (second.ret, third.ret) == (0, 0)  # not asked to fail
    assert "NEW incident" not in second.stdout.str()  # two nights are no change yet
    last = third.stdout.str()
    [line] = [line for line in last.splitlines() if line.startswith("NEW incident")]
    assert "test_speed.py::test_speed::latency" in line and "1 series of 1 test(s)" in line
    assert "since 2026-02-10" in line  # the first slow night, not the last quick one
    assert last.rstrip().splitlines()[-1].startswith("=")  # pytest's own last line ...
    summary = last[last.index("speck-hil history") :]
    assert "worse" in summary and "p=" in summary  # ... right after ours
    failing = pytester.runpytest("--hil-history", "history.sqlite", "--hil-fail-on-regression")
    assert failing.ret == 1
    assert "--hil-fail-on-regression: 1 open incident(s), 1 open series" in failing.stdout.str()
    with HistoryStore(str(db)) as store:  # two fixed nights, then two in pytest
        latest = store.runs()[-1].started
        for k in range(1, 3):
            record = run_record(
                [{"name": "latency", "value": 100.0, "upper": 200}],
                serial="",
                test="test_speed.py::test_speed",
            )
            record["session"]["device"] = None
            record["session"]["started"] = (latest + dt.timedelta(milliseconds=k)).isoformat()
            store.append(from_record(record))
    monkeypatch.setenv("LATENCY", "100")
    fourth, fifth = [pytester.runpytest("--hil-history", "history.sqlite") for _ in range(2)]
    [line] = [line for line in fourth.stdout.str().splitlines() if line.startswith("recovered")]
    assert "test_speed.py::test_speed::latency" in line
    assert "no open incidents" in fifth.stdout.str()
    with HistoryStore(str(db)) as store:
        assert len(store.runs()) == 40 + 1 + 3 + 2 + 2


def test_a_change_of_unknown_direction_is_shown_but_fails_nothing(pytester, monkeypatch):
    _past(pytester.path / "history.sqlite", upper=None, then=[130.0, 131.0])
    pytester.makepyfile(test_speed=LATENCY.replace(", upper=200", ""))
    monkeypatch.setenv("LATENCY", "129")
    result = pytester.runpytest("--hil-history", "history.sqlite", "--hil-fail-on-regression")
    assert result.ret == 0
    [line] = [line for line in result.stdout.str().splitlines() if line.startswith("NEW")]
    assert ": changed, 1 series" in line and "test_speed.py::test_speed::latency" in line
    assert "0 open incident(s), 0 open series failing the gate" in result.stdout.str()


def test_an_unreachable_history_stops_the_session_before_any_test(pytester):
    pytester.makepyfile(test_speed=LATENCY)
    result = pytester.runpytest("--hil-history", "postgresql://lab:pw@127.0.0.1:9/nightly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hil-history: history postgresql+psycopg://lab:***@127.0.0.1:9/nightly" in (
        result.stderr.str()
    )


def test_a_store_that_fails_at_the_end_keeps_the_run(pytester, monkeypatch):
    monkeypatch.setenv("LATENCY", "100")
    pytester.makepyfile(
        test_speed=LATENCY
        + """
def test_store_breaks():
    from pathlib import Path
    Path("history.sqlite").write_bytes(b"not a database" * 100)
"""
    )
    result = pytester.runpytest("--hil-history", "history.sqlite")
    assert result.ret == 1
    out = result.stdout.str()
    assert "this run was NOT stored" in out
    [kept] = pytester.path.glob("hil-run-*.json")
    record = json.loads(kept.read_text())
    assert [t["nodeid"] for t in record["tests"]] == [
        "test_speed.py::test_speed",
        "test_speed.py::test_store_breaks",
    ]


def test_the_run_record_carries_its_provenance(pytester):
    shutil.copytree(REPO / "recordings", pytester.path / "recordings")
    shutil.copytree(REPO / "fixtures", pytester.path / "fixtures")
    pytester.makepyfile(test_device=DEVICE_TEST)
    # In a process of its own: the replay compiles the emulator's kernels, and numba's
    # modules loaded inside an in-process session would be forgotten and registered twice.
    result = pytester.runpytest_subprocess("--hil-report", "hil.json", "--hil-history", "h.sqlite")
    assert result.ret == 0
    record = json.loads((pytester.path / "hil.json").read_text())
    session = record["session"]
    assert record["version"] == 2 and len(session["run_id"]) == 32
    provenance = session["provenance"]
    assert set(provenance["versions"]) == {"harness", "sinabs", "torch", "samna"}
    assert provenance["versions"]["samna"] == "emulated"
    assert provenance["versions"]["sinabs"].startswith("3.")
    assert provenance["host"]["name"]
    assert provenance["git"] is None  # pytester's folder is no git work tree
    profile = provenance["profile"]
    assert profile["name"] == "speck2f" and len(profile["sha256"]) == 64
    assert profile["budgets_measured"] in (True, False)
    assert profile["content"]["n_cores"] == 9 and "source" not in profile["content"]
    device = session["device"]
    assert device["serial"] and device["logic_version"] is not None
    [replay] = record["tests"][0]["replays"]
    manifest = (pytester.path / "recordings" / "manifest.toml").read_text()
    assert replay["recording"] == "poisson_34" and replay["sha256"] in manifest
    assert len(replay["config_hash"]) == 64
    assert record["tests"][0]["measurements"][0]["better"] == "higher"
    with HistoryStore(str(pytester.path / "h.sqlite")) as store:
        [run] = store.runs()
        assert run.serial == device["serial"] and run.versions["samna"] == "emulated"


def test_collecting_only_stores_nothing(pytester):
    pytester.makepyfile(test_speed=LATENCY)
    result = pytester.runpytest("--collect-only", "--hil-history", "h.sqlite")
    assert result.ret == 0
    assert not (pytester.path / "h.sqlite").exists()
