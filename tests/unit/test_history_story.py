"""The trial's story as a test: 27 nights of a lab suite; the emulated chip's core 1 aged for
five nights (the truth hidden in ``HIL_SIM_PROFILE``), then healthy again; then the network
changed in a commit, and the lab accepted it.

Most nights are stored as their run records; four are real pytest sessions with
``--hil-history --hil-fail-on-regression --junitxml``, started from a cron folder above the
suite. Expected: one incident for the aged core, dated at its first night, closed as
recovered; one accepted incident for the network change; the gate red only while an
incident is open (the aged core, and the network change until it is accepted), and the
JUnit XML shows the failing gate.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from history_fixtures import START, run_record

import hil.analysis.checks  # noqa: F401  (the measure fixture imports it: once, not per session)
from hil.cli import main
from hil.history.incidents import assess
from hil.history.records import from_record
from hil.history.store import HistoryStore

TEST = "test_lab.py::test_net"
AGED = range(12, 17)  # core 1 aged on these nights
NETWORK = 22  # the new network from this night on

LAB_TEST = """
import json, os

def test_net(measure):
    for name, (value, unit, better, upper) in json.loads(os.environ["NIGHT"]).items():
        measure(name, value, unit, upper=upper, better=better)
"""


def _night(night: int, rng: np.random.Generator) -> dict:
    """What the chip measures on ``night``: the hidden truth (an aged core 1, the network)
    and noise. name: (value, unit, better, upper)."""
    aged, net = night in AGED, night >= NETWORK
    delay = 744.0 if aged else 5.0
    synops = 2.6e6 if net else 2.0e6
    return {
        "delay_p50": (delay * (1 + 0.04 * rng.standard_normal()), "µs", "lower", None),
        "delay_p99": (delay * 2 * (1 + 0.04 * rng.standard_normal()), "µs", "lower", None),
        "delay_max": (delay * 3 * (1 + 0.04 * rng.standard_normal()), "µs", "lower", 5000.0),
        "delay_drift": (
            (-259_630.0 if aged else 0.475) + 0.1 * rng.standard_normal(),
            "µs/s",
            "zero",
            None,
        ),
        "core1.synops_mean": (
            synops * (1 + 0.01 * rng.standard_normal()),
            "SynOps/s",
            "lower",
            None,
        ),
        "power_mean": ((12.5 if net else 10.0) + 0.05 * rng.standard_normal(), "mW", "lower", None),
        "layer0.cosine": (0.95 + 0.001 * rng.standard_normal(), "", "higher", None),
    }


def _store_night(db, values, started, provenance) -> None:
    """A night as a session of the suite records it, with the provenance such a session
    has (``hil.history.provenance``: the same versions, host, commits, truth)."""
    record = run_record(
        [
            {"name": n, "value": v, "unit": u, "better": b, "upper": up}
            for n, (v, u, b, up) in values.items()
        ],
        test=TEST,
        serial="",
    )
    session = record["session"]
    session["device"] = None
    session["started"] = started.isoformat()
    session["provenance"] = provenance
    session["git_commit"] = (provenance["git"] or {}).get("commit")
    with HistoryStore(str(db)) as store:
        store.append(from_record(record))


@pytest.fixture(autouse=True)
def _lean_inner_runs(monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    for name in ("HIL_DEVICE", "HIL_PROFILE", "HIL_HISTORY", "HIL_FAIL_ON_REGRESSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.slow
def test_healthy_nights_an_aged_core_recovery_and_an_accepted_change(pytester, monkeypatch, capsys):
    from hil.chip.profile import load_profile
    from hil.history.provenance import session_provenance

    aged_truth = pytester.path / "aged-core1.toml"  # core 1 serves 50 times fewer SynOps/s
    aged_truth.write_text(
        "[timing]\nsynops_per_s = [5e7, 1e6, 5e7, 5e7, 5e7, 5e7, 5e7, 5e7, 5e7]\n"
    )
    suite = pytester.path / "nc" / "lab"  # the suite and its ini; pytest starts two above
    suite.mkdir(parents=True)
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_lab.py").write_text(LAB_TEST)
    (pytester.path / ".gitignore").write_text("*.sqlite\n*.xml\n*.png\n")
    _git(pytester, "init", "-q")
    _git(pytester, "add", "nc")
    _git(pytester, "commit", "-qm", "the lab suite")

    def provenance(aged: bool) -> dict:
        if aged:
            monkeypatch.setenv("HIL_SIM_PROFILE", str(aged_truth))
        found = session_provenance(suite, load_profile("speck2f"))
        monkeypatch.delenv("HIL_SIM_PROFILE", raising=False)
        return found

    db = pytester.path / "nightly.sqlite"
    rng = np.random.default_rng(24)
    latest = [START]

    healthy, aged = provenance(False), provenance(True)

    def store(night: int) -> None:
        started = (
            START + dt.timedelta(days=night)
            if night < 15
            else latest[0] + dt.timedelta(milliseconds=1)
        )
        latest[0] = started
        _store_night(db, _night(night, rng), started, aged if night in AGED else healthy)

    def session(night: int):
        if night in AGED:
            monkeypatch.setenv("HIL_SIM_PROFILE", str(aged_truth))
        monkeypatch.setenv("NIGHT", json.dumps(_night(night, rng)))
        junit = pytester.path / f"junit-{night}.xml"
        result = pytester.runpytest(
            "nc/lab",
            "--hil-history",
            str(db),
            "--hil-fail-on-regression",
            "--junitxml",
            str(junit),
        )
        monkeypatch.delenv("HIL_SIM_PROFILE", raising=False)
        latest[0] = dt.datetime.now(dt.timezone.utc)
        return result, ET.parse(junit).getroot()

    def cli(*argv) -> tuple[int, str]:
        capsys.readouterr()  # what the sessions printed
        status = main(["history", *argv, "--db", str(db)])
        return status, capsys.readouterr().out

    for night in range(15):
        store(night)
    # night 15: the aged core's fourth night, a real session: the gate is red
    result, junit = session(15)
    assert result.ret == 1
    out = result.stdout.str()
    [line] = [
        line for line in out.splitlines() if line.startswith(("NEW incident", "open incident"))
    ]
    assert (
        "worse, 4 series of 1 test(s)" in line
    )  # delay p50, p99, max, drift  # one incident for the aged core ...
    assert f"since {START + dt.timedelta(days=12):%Y-%m-%d}" in line  # ... from its first night
    assert "emulated truth None→" in line and "aged-core1.toml" in line  # what else changed
    assert "--hil-fail-on-regression: 1 open incident(s), 4 open series" in out
    suite_xml = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite_xml.get("failures") == "1"
    [gate] = [c for c in suite_xml.iter("testcase") if c.find("failure") is not None]
    assert gate.get("name").startswith("incident ")
    message = gate.find("failure").get("message") + (gate.find("failure").text or "")
    assert "delay_p50" in message and "since" in message and "->" in message and "p=" in message
    # the test ids are the suite's, not the cron folder's: pytest printed nc/lab/test_lab.py
    status, out = cli("series", "test_net::delay_p50")
    assert out.splitlines()[0] == f"{TEST}::delay_p50 [speck2f]"
    status, out = cli(
        "trend", "nc/lab/test_lab.py::test_net::delay_p50", "--out", str(pytester.path / "t.png")
    )
    assert status == 0 and "delay_p50" in out

    for night in range(16, 21):
        store(night)
    result, junit = session(21)  # recovered: green, and the incident closed as recovered
    assert result.ret == 0, result.stdout.str()
    assert "no open incidents" in result.stdout.str()

    (suite / "network.txt").write_text("gesture network v2\n")  # the network changes in a commit
    _git(pytester, "add", "nc")
    _git(pytester, "commit", "-qm", "a new gesture network")
    healthy = provenance(False)
    for night in range(NETWORK, 25):
        store(night)
    result, _ = session(25)  # the new network: red until the lab accepts it
    assert result.ret == 1
    status, out = cli("incidents", "--format", "json")
    aged, network = json.loads(out)
    [new, old] = _git(pytester, "log", "--format=%H").split()
    assert network["state"] == "open"
    assert network["what_else_changed"] == f"suite commit {old[:10]}→{new[:10]}"
    status, out = cli("accept", network["id"], "--reason", "new gesture network", "--who", "lab")
    assert status == 0 and "accepted" in out
    result, junit = session(26)
    assert result.ret == 0, result.stdout.str()
    suite_xml = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite_xml.get("failures") == "0"

    status, out = cli("incidents", "--format", "json")
    aged, network = json.loads(out)  # the aged core is remembered after the later change
    assert aged["state"] == "recovered" and aged["recovered"].startswith(latest_date(db, 17))
    assert aged["started"].startswith(f"{START + dt.timedelta(days=12):%Y-%m-%d}")
    assert len(aged["series"]) == 4 and not aged["fails_gate"]
    assert network["state"] == "accepted" and network["accepted"]["reason"] == "new gesture network"
    assert network["accepted"]["who"] == "lab"
    assert {"core1.synops_mean", "power_mean"} <= {s.split("::")[-1] for s in network["series"]}
    status, out = cli("regressions")
    assert "0 open incident(s), 0 open series failing the gate" in out
    status, out = cli("regressions", "--format", "json")
    drift = [f for f in json.loads(out) if f["series"].endswith("delay_drift")]
    assert [f["state"] for f in drift] == ["recovered", "recovery"]  # never a new regression
    assert not drift[0]["effect_relative"]  # from 0.475 µs/s: absolute, not +5e7 %
    with HistoryStore(str(db)) as store_:
        history, acceptances = store_.load(), store_.acceptances()
    assert len(history.runs) == 27
    assert [i.state for i in assess(history, acceptances).incidents] == ["recovered", "accepted"]


def _git(pytester, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-c", "user.name=lab", "-c", "user.email=lab@example.org", *args],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def latest_date(db, night: int) -> str:
    """The date of the run stored for ``night`` (nights after 15 are a millisecond apart)."""
    with HistoryStore(str(db)) as store:
        return f"{store.runs()[night].started:%Y-%m-%d}"
