"""``speck-hil history ...``: import, runs, regressions, trend, report; bad input is one line
and exit status 2, and nothing stored is lost."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from history_fixtures import START, history_url, run_record  # noqa: F401 (fixture)

from hil.cli import main
from hil.history.records import from_record
from hil.history.store import HistoryStore
from hil.history.synthetic import history

TEST = "tests/hil/test_net.py::test_gesture"


def _nightly(folder, runs: int = 60, shift_at: int = 40) -> list:
    """A night per file: delay_max (upper limit) rises 3 σ at ``shift_at``; cosine (lower
    limit) stays put."""
    delays = history("shift" if shift_at == 40 else "noise", seed=5)
    cosines = 0.95 + 0.001 * history("noise", seed=6) / 100
    files = []
    for night in range(runs):
        record = run_record(
            [
                {"name": "delay_max", "value": float(delays[night]), "upper": 200.0},
                {"name": "layer0.cosine", "value": float(cosines[night]), "lower": 0.9},
            ],
            night,
        )
        if night >= shift_at >= 0:  # the night sinabs was upgraded
            record["session"]["provenance"]["versions"]["sinabs"] = "3.1.4"
        path = folder / f"night{night:02d}.json"
        path.write_text(json.dumps(record))
        files.append(path)
    return files


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_import_then_regressions_as_json(history_url, tmp_path, capsys):  # noqa: F811
    files = _nightly(tmp_path)
    status, out, _ = _run(capsys, "history", "import", "--db", history_url, *files)
    assert status == 0 and out.count("stored") == 60
    status, out, _ = _run(capsys, "history", "import", "--db", history_url, files[0])
    assert "already stored" in out
    status, out, _ = _run(capsys, "history", "regressions", "--db", history_url, "--format", "json")
    assert status == 0
    [found] = json.loads(out)
    assert set(found) == {
        "series",
        "serial",
        "profile",
        "direction",
        "kind",
        "state",
        "incident",
        "started",
        "run_id",
        "commit",
        "before",
        "after",
        "effect",
        "effect_relative",
        "unit",
        "p",
        "recovered",
        "accepted",
    }
    assert found["state"] == "open" and len(found["incident"]) == 8
    assert found["series"] == f"{TEST}::delay_max"
    assert found["serial"] == "SER1"
    assert found["direction"] == "worse" and found["kind"] == "step"
    night = (dt.datetime.fromisoformat(found["started"]) - START).days
    assert night == 40
    assert found["commit"] == f"{night:040x}"
    assert found["after"] > found["before"] * 1.05 and found["p"] < 0.01
    later = (START + dt.timedelta(days=night + 1)).date().isoformat()
    status, out, _ = _run(
        capsys, "history", "regressions", "--db", history_url, "--format", "json", "--since", later
    )
    assert json.loads(out) == []
    status, out, _ = _run(capsys, "history", "regressions", "--db", history_url, "--open")
    assert "delay_max" in out and "open" in out and "cosine" not in out
    assert "sinabs 3.1.3→3.1.4" in out  # what else changed where it started (seed 5: night 40)
    status, out, _ = _run(capsys, "history", "runs", "--db", history_url)
    assert status == 0 and out.strip().endswith("60 runs") and "lab-host" in out


def test_no_regression_in_a_quiet_history(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    _run(capsys, "history", "import", "--db", db, *_nightly(tmp_path, shift_at=-1))
    status, out, _ = _run(capsys, "history", "regressions", "--db", db, "--format", "json")
    assert status == 0 and json.loads(out) == []


def test_trend_picture(tmp_path, capsys, monkeypatch):
    db = tmp_path / "h.sqlite"
    _run(capsys, "history", "import", "--db", db, *_nightly(tmp_path))
    monkeypatch.setenv("HIL_HISTORY", str(db))
    out_png = tmp_path / "trend.png"
    status, out, _ = _run(capsys, "history", "trend", f"{TEST}::delay_max", "--out", out_png)
    assert status == 0 and "1 change(s)" in out
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, err = _run(capsys, "history", "trend", f"{TEST}::nothing", "--out", out_png)
    assert status == 2 and "not in the history" in err


def test_pytest_benchmark_files_trend_beside_chip_runs(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    bench = {
        "machine_info": {"node": "ci-host", "python_version": "3.11.7"},
        "commit_info": {"id": "abc123", "branch": "main"},
        "datetime": "2026-01-02T03:04:05.000006",
        "version": "5.1.0",
        "benchmarks": [
            {
                "name": "test_replay",
                "fullname": "tests/benchmarks/test_b.py::test_replay",
                "stats": {"min": 0.1, "max": 0.3, "mean": 0.2, "median": 0.19, "stddev": 0.01},
            }
        ],
    }
    path = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit" / "0001_bench.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(bench))
    status, out, _ = _run(capsys, "history", "import", "--db", db, tmp_path / ".benchmarks")
    assert status == 0 and "3 values" in out and str(path) in out
    with HistoryStore(str(db)) as store:
        [key, *_] = store.series()
        assert key.serial == "host:ci-host"
        [point] = store.points(key)
        assert point.better == "lower" and point.git_commit == "abc123"
        assert point.started == dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not JSON"),
        ('{"some": "other tool"}', "neither a speck-hil run record"),
        ("[1, 2]", "neither a speck-hil run record"),
        (
            '{"format": "speck-hil run record", "version": 1, "session": {}, "tests": []}',
            "version 1 is older",
        ),
        (
            '{"format": "speck-hil run record", "version": 2, "session": {}, "tests": []}',
            "field 'provenance'",
        ),
    ],
)
def test_bad_files_are_one_line_and_lose_nothing(tmp_path, capsys, content, says):
    db = tmp_path / "h.sqlite"
    good = _nightly(tmp_path, runs=2)
    _run(capsys, "history", "import", "--db", db, good[0])
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    status, out, err = _run(capsys, "history", "import", "--db", db, bad, good[1])
    assert status == 2
    assert err.count("\n") == 1 and str(bad) in err and says in err
    assert "night01.json: stored" in out  # the good file after the bad one is stored too
    with HistoryStore(str(db)) as store:
        assert len(store.runs()) == 2


def test_bad_values_name_their_field(tmp_path, capsys):
    record = run_record([{"name": "delay_max", "value": [1]}])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    status, _, err = _run(capsys, "history", "import", "--db", tmp_path / "h.sqlite", bad)
    assert status == 2 and "tests[0].measurements[0].value: expected a number" in err


def test_an_unreachable_database_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    path = tmp_path / "night.json"
    path.write_text(json.dumps(run_record([{"name": "x", "value": 1.0}])))
    url = "postgresql://lab:secret@127.0.0.1:9/nightly"
    for argv in (["import", "--db", url, path], ["runs", "--db", url]):
        status, _, err = _run(capsys, "history", *argv)
        assert status == 2 and err.count("\n") == 1 and "127.0.0.1:9" in err
        assert "secret" not in err
    assert path.exists()
    monkeypatch.delenv("HIL_HISTORY", raising=False)
    status, _, err = _run(capsys, "history", "runs")
    assert status == 2 and "--db" in err
    status, _, err = _run(capsys, "history", "runs", "--db", tmp_path / "missing.sqlite")
    assert status == 2 and "no such file" in err
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"not a database" * 100)
    for argv in (["runs"], ["import", path]):
        status, _, err = _run(capsys, "history", *argv, "--db", corrupt)
        assert status == 2 and err.count("\n") == 1 and "file is not a database" in err
    assert corrupt.read_bytes() == b"not a database" * 100


def test_the_help_and_the_plugin_load_no_store_or_statistics():
    import subprocess
    import sys

    code = (
        "import sys, hil.plugin\nfrom hil.cli import main\n"
        "try:\n    main(['history', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', *(m for m in ('sqlalchemy', 'scipy', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.rsplit("LOADED", 1)[1].split() == []


def test_accept_a_series_then_a_new_move_is_a_new_incident(tmp_path, capsys, monkeypatch):
    """The gate clears once a change is accepted, with who, when and why; a later change of
    the same series is a new incident, judged against the accepted level."""
    db = tmp_path / "h.sqlite"
    _run(capsys, "history", "import", "--db", db, *_nightly(tmp_path))
    monkeypatch.setenv("HIL_HISTORY", str(db))
    monkeypatch.setenv("USER", "nightly-lead")
    status, out, _ = _run(capsys, "history", "incidents")
    assert status == 0 and "1 open incident(s), 1 open series failing the gate" in out
    with pytest.raises(SystemExit) as refused:  # a reason is required
        main(["history", "accept", f"{TEST}::delay_max"])
    assert refused.value.code == 2 and "--reason" in capsys.readouterr().err
    status, out, _ = _run(
        capsys, "history", "accept", f"{TEST}::delay_max", "--reason", "new network, more load"
    )
    assert status == 0 and "accepted" in out and "nightly-lead" in out
    status, out, _ = _run(capsys, "history", "incidents", "--format", "json")
    [incident] = json.loads(out)
    assert incident["state"] == "accepted" and not incident["fails_gate"]
    assert incident["accepted"]["who"] == "nightly-lead"
    assert incident["accepted"]["reason"] == "new network, more load"
    status, _, err = _run(capsys, "history", "accept", incident["id"], "--reason", "again")
    assert status == 2 and "is accepted: nothing to accept" in err
    with HistoryStore(str(db)) as store:  # it moves again: a new incident, open
        for night in range(60, 66):
            value = 140.0 + night % 2
            store.append(
                from_record(
                    run_record([{"name": "delay_max", "value": value, "upper": 200.0}], night)
                )
            )
    status, out, _ = _run(capsys, "history", "incidents", "--format", "json")
    first, second = json.loads(out)
    assert first["state"] == "accepted" and second["state"] == "open" and second["fails_gate"]


def test_series_are_listed_and_an_unknown_name_gets_the_closest(tmp_path, capsys, monkeypatch):
    db = tmp_path / "h.sqlite"
    _run(capsys, "history", "import", "--db", db, *_nightly(tmp_path, runs=3))
    monkeypatch.setenv("HIL_HISTORY", str(db))
    status, out, _ = _run(capsys, "history", "series")
    assert status == 0 and out.splitlines() == [
        f"{TEST}::delay_max [SER1 speck2f]",
        f"{TEST}::layer0.cosine [SER1 speck2f]",
        "2 series",
    ]
    status, out, _ = _run(capsys, "history", "series", "*cosine")
    assert out.splitlines()[-1] == "1 series"
    png = tmp_path / "t.png"
    status, _, err = _run(capsys, "history", "trend", f"{TEST}::delay_mx", "--out", png)
    assert status == 2 and f"closest: {TEST}::delay_max" in err
    assert "`speck-hil history series` lists them" in err
    # the id pytest printed when started from a folder above the suite's
    status, out, _ = _run(capsys, "history", "trend", f"lab/{TEST}::delay_max", "--out", png)
    assert status == 0 and "delay_max" in out


def test_runs_show_the_harness_commit_and_the_emulated_truth(tmp_path, capsys):
    record = run_record([{"name": "x", "value": 1.0}])
    provenance = record["session"]["provenance"]
    provenance["harness_git"] = {"commit": "1234567890abcdef", "branch": "main", "dirty": False}
    provenance["emulated_truth"] = {"HIL_SIM_PROFILE": "noisy", "sha256": "fe" * 32}
    path = tmp_path / "night.json"
    path.write_text(json.dumps(record))
    db = tmp_path / "h.sqlite"
    _run(capsys, "history", "import", "--db", db, path)
    status, out, _ = _run(capsys, "history", "runs", "--db", db)
    assert status == 0
    assert "harness commit" in out and "1234567890" in out and "noisy (fefefefe)" in out
