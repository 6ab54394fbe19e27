"""Hostile and broken input, round two (issue 25): the runs themselves.

A run record whose run id is stored already with other values, the record of a session that
was killed, a disk that fills while a session runs, a test id that is not UTF-8, a history
another process is writing. Each case asserts its exit status, one line naming the input,
that no file changed and no earlier result was lost, and that nothing hangs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_bad_input import EXIT_BAD_INPUT, NO_BENCHMARK, cli, one_line, snapshot
from test_hostile_input import HANG_S, _record, bounded

# --- history import: a run id stored already --------------------------------------------------


def _write(folder: Path, name: str, record: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(record))
    return path


def _stored_values(db: Path) -> dict[str, list[float]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT r.run_id, v.value FROM hil_results v JOIN hil_runs r ON v.run = r.id"
        ).fetchall()
    found: dict[str, list[float]] = {}
    for run_id, value in rows:
        found.setdefault(run_id, []).append(value)
    return found


def test_a_run_id_stored_with_other_values_is_refused_by_name(tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    first = _write(folder, "a.json", _record())
    other = _record(exitstatus=1)
    other["tests"][0]["measurements"][0]["value"] = 2.5
    other_path = _write(folder, "b-other.json", other)
    copy = _write(folder, "c-copy.json", _record())
    later = _write(folder, "d-later.json", _record(run_id="run-2"))
    db = tmp_path / "h.sqlite"
    assert cli(capsys, "history", "import", first, "--db", db)[0] == 0
    before = snapshot(folder)
    code, out, err = bounded(
        lambda: cli(capsys, "history", "import", other_path, copy, later, "--db", db)
    )
    assert code == EXIT_BAD_INPUT
    line = one_line(err, "b-other.json: run run-1 is stored already")
    assert "exitstatus" in line and "values (1 of 1" in line and "refused" in line
    assert "c-copy.json: already stored" in out  # the same run again: quietly once
    assert "d-later.json: stored" in out  # the files after it are imported
    assert _stored_values(db) == {"run-1": [1.5], "run-2": [1.5]}  # the stored run kept
    assert snapshot(folder) == before


def test_a_run_stored_by_its_session_then_imported_is_the_same_run(pytester, capsys):
    """The session stores its run and writes its --hil-report; importing that file later
    finds the same run (the session's end is written once), not a conflicting one."""
    pytester.makepyfile("def test_a(measure):\n    measure('x', 1.0)\n")
    db = pytester.path / "h.sqlite"
    report = pytester.path / "r.json"
    result = pytester.runpytest(NO_BENCHMARK, f"--hil-history={db}", f"--hil-report={report}")
    assert result.ret == 0
    code, out, err = cli(capsys, "history", "import", report, "--db", db)
    assert (code, err) == (0, "")
    assert "already stored" in out


# --- history import: a killed session's record ------------------------------------------------


def test_a_killed_sessions_record_is_stored_as_incomplete(tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    killed = _write(folder, "killed.json", _record(run_id="killed", ended=None, exitstatus=None))
    done = _write(folder, "done.json", _record(run_id="done", exitstatus=0))
    stopped = _write(folder, "stopped.json", _record(run_id="stopped", exitstatus=2))
    db = tmp_path / "h.sqlite"
    before = snapshot(folder)
    code, out, err = bounded(
        lambda: cli(capsys, "history", "import", killed, done, stopped, "--db", db)
    )
    assert code == 0
    line = one_line(err, "killed.json: session.ended is null")
    assert "incomplete run with the 1 values" in line
    assert out.count(": stored") == 3
    assert snapshot(folder) == before
    code, out, _ = cli(capsys, "history", "runs", "--db", db)
    assert code == 0
    ends = [row.split()[-2] for row in out.splitlines()[1:-1]]
    assert sorted(ends) == ["0", "incomplete", "interrupted"], out


def test_an_interrupted_session_is_stored_as_interrupted(pytester, capsys):
    """Ctrl-C in a live session: its record has an end and pytest's status 2, which `history
    runs` shows as an import of such a record shows it."""
    pytester.makepyfile(
        "def test_a(measure):\n    measure('x', 1.0)\ndef test_b():\n    raise KeyboardInterrupt\n"
    )
    db = pytester.path / "h.sqlite"
    result = pytester.runpytest_subprocess(NO_BENCHMARK, f"--hil-history={db}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    capsys.readouterr()
    code, out, _ = cli(capsys, "history", "runs", "--db", db)
    assert code == 0 and " interrupted " in out.splitlines()[1]
    assert _stored_values(db) and list(_stored_values(db).values()) == [[1.0]]


# --- a disk that fills while the session runs -------------------------------------------------

#: A pytest plugin for the session under test: files that appear under $FULL_DIR (through
#: ``os.replace``, the step every harness write ends with) take from $FULL_BYTES; once those
#: are spent each such write fails with ENOSPC, as on a full disk.
FULL_DISK_PLUGIN = """
import errno, os

FULL = os.environ["FULL_DIR"]
left = [int(os.environ["FULL_BYTES"])]
replace = os.replace


def full_replace(src, dst, *args, **kwargs):
    if os.path.abspath(dst).startswith(FULL):
        size = os.path.getsize(src)
        if size > left[0]:
            left[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        left[0] -= size
    return replace(src, dst, *args, **kwargs)


os.replace = full_replace
"""

#: 30 tests measuring their number, two of them replaying on the emulated devkit.
FULL_DISK_SUITE = """
import numpy as np
import pytest
from hil.events import EVENT_DTYPE
from hil.examples import scnn_34


@pytest.mark.parametrize("n", range(28))
def test_value(measure, n):
    measure("n", float(n))


@pytest.mark.parametrize("n", [28, 29])
def test_replay(speck, measure, n):
    events = np.zeros(4, dtype=EVENT_DTYPE)
    events["t"] = [10, 20, 30, 40]
    speck.deploy(scnn_34(), (2, 34, 34)).replay(events)
    measure("n", float(n))
"""


def test_a_disk_that_fills_midway_loses_no_result(tmp_path):
    """The disk pytest runs on (the report, the artifacts, the folder itself) fills after a
    few tests: each kind of file says so once, every test runs, and the whole record is
    kept in the next folder that takes it, named at the end."""
    full = tmp_path / "work"
    spare = tmp_path / "spare"
    for folder in (full, spare):
        folder.mkdir()
    (tmp_path / "fulldisk.py").write_text(FULL_DISK_PLUGIN)
    (full / "test_suite.py").write_text(FULL_DISK_SUITE)
    report = full / "report.json"
    env = {
        **os.environ,
        "FULL_DIR": str(full),
        "FULL_BYTES": "60000",  # a few tests' records, then full
        "TMPDIR": str(spare),  # the fallback folder after the one pytest runs in
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    for name in ("HIL_HISTORY", "HIL_REPORT", "HIL_ARTIFACTS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "fulldisk",
            "-p",
            "no:cacheprovider",
            NO_BENCHMARK,
            "-p",
            "no:xdist",
            "-q",
            "test_suite.py",
            f"--hil-report={report}",
            f"--hil-artifacts={full / 'art'}",
        ],
        cwd=full,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_S * 5,
    )
    output = result.stdout + result.stderr
    assert "INTERNALERROR" not in output and "Traceback" not in output, output
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, output  # not where asked for
    assert "30 passed" in output  # every test ran, none failed by the disk
    said = "\n".join(x for x in output.splitlines() if str(report) in x and "No space" in x)
    one_line(said, f"--hil-report {report}: cannot be written (No space left on device)")
    (artifacts,) = [x for x in output.splitlines() if "--hil-artifacts" in x and "No space" in x]
    assert "the tests go on" in artifacts
    (kept,) = spare.glob("hil-run-*.json")
    assert f"run record kept at {kept}" in output
    record = json.loads(kept.read_text())
    values = sorted(m["value"] for t in record["tests"] for m in t["measurements"])
    assert values == [float(n) for n in range(30)]
    assert record["session"]["ended"] is not None
    if report.exists():  # an earlier whole record, never half a file
        json.loads(report.read_text())


def test_a_report_on_a_device_file_is_refused_before_any_test(pytester):
    pytester.makepyfile("def test_never_runs():\n    raise AssertionError('ran')\n")
    result = pytester.runpytest(NO_BENCHMARK, "--hil-report=/dev/full")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    one_line(result.stderr.str(), "--hil-report /dev/full: exists and is not a regular file")
    assert Path("/dev/full").is_char_device()


# --- a test id that is not UTF-8 ----------------------------------------------------------------


PYTEST_QUIET = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", NO_BENCHMARK, "-q")


def _clean_env() -> dict[str, str]:
    """This process's environment without the harness's variables and pytest's options."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HIL_", "PYTEST_ADDOPTS"))}


def test_a_test_file_name_that_is_not_utf8_is_reported_and_stored(tmp_path, capsys):
    (tmp_path / os.fsdecode(b"test_\xff.py")).write_text(
        "def test_a(measure):\n    measure('x', 1.0)\n"
    )
    report = tmp_path / "r.json"
    db = tmp_path / "h.sqlite"
    env = _clean_env()
    result = subprocess.run(
        [
            *PYTEST_QUIET,
            f"--hil-report={report}",
            f"--hil-history={db}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=HANG_S * 2,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "INTERNALERROR" not in output, output
    (test,) = json.loads(report.read_text(encoding="utf-8"))["tests"]
    assert test["nodeid"] == "test_\\udcff.py::test_a"  # escaped, not dropped
    assert test["measurements"][0]["value"] == 1.0
    code, out, _ = cli(capsys, "history", "series", "--db", db)
    assert code == 0 and "test_\\udcff.py::test_a::x" in out


# --- a history another process is writing -------------------------------------------------------


def _history(folder: Path) -> Path:
    from hil.history.store import HistoryStore

    path = folder / "h.sqlite"
    HistoryStore(str(path)).close()
    return path


def test_a_history_locked_for_longer_than_the_wait_is_refused_naming_it(tmp_path, monkeypatch):
    from hil.history.records import HistoryError
    from hil.history.store import HistoryStore

    path = _history(tmp_path)
    monkeypatch.setenv("HIL_HISTORY_LOCK_WAIT", "2")
    said: list[str] = []
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(HistoryError) as error:
            bounded(lambda: HistoryStore(str(path), waiting=said.append), seconds=HANG_S)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = one_line(str(error.value), f"history {path}: is locked by another process")
    assert "waited 2 s; $HIL_HISTORY_LOCK_WAIT" in line
    assert one_line("\n".join(said), f"history {path}: locked").endswith(
        "waiting up to 2 s for it ($HIL_HISTORY_LOCK_WAIT sets how long)"
    )


HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def test_a_session_waits_for_another_writer_saying_so(tmp_path):
    """A nightly job holds the history's write lock longer than a moment: the session says
    which file and which process it waits for, then runs once the lock is free."""
    db = _history(tmp_path)
    (tmp_path / "test_one.py").write_text("def test_a(measure):\n    measure('x', 1.0)\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout.readline() == b"held\n"
    env = _clean_env()
    session = subprocess.Popen(
        [
            *PYTEST_QUIET,
            f"--hil-history={db}",
        ],
        cwd=tmp_path,
        env={**env, "HIL_HISTORY_LOCK_WAIT": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = threading.Timer(HANG_S, session.kill)  # a hang fails the test, bounded
    waiting.start()
    try:
        line = session.stderr.readline()
        holder.stdin.close()  # the other writer is done
        holder.wait(timeout=HANG_S)
        out, err = session.communicate(timeout=HANG_S)
    finally:
        waiting.cancel()
        holder.kill()
    assert f"speck-hil: history {db}: locked by another process (pid {holder.pid}:" in line
    assert "waiting up to 300 s" in line
    assert session.returncode == 0, out + err
    assert "history: run stored" in out
    assert list(_stored_values(db).values()) == [[1.0]]


def test_a_lock_wait_that_is_not_seconds_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("HIL_HISTORY_LOCK_WAIT", "forever")
    code, _, err = cli(capsys, "history", "runs", "--db", "/nonexistent/h.sqlite")
    assert code == EXIT_BAD_INPUT
    one_line(err, "HIL_HISTORY_LOCK_WAIT='forever': expected seconds from 0 to 86400")
