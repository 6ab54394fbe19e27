"""Hostile and broken input, round two (issue 25): what the first corpus did not reach.

The shared lock folder (planted links, bytes that are not text), measurement values a run
record cannot hold, history files that are not ours or cannot be written, the edges of
calibration, model files that fork or leave threads, output paths, a closed pipe. Each case
asserts its exit status or exception, one line naming the input, that nothing there changed,
and that nothing hangs (a bounded wait) or allocates what a file asks for.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from corpus import BIG_MODELS, ELSEWHERE_RECORDINGS, good_events
from test_bad_input import EXIT_BAD_INPUT, NO_BENCHMARK, cli, one_line, snapshot

from hil import recordings
from hil.backends import parse_device_spec
from hil.lab.pool import BoardPool, NoBoardFree
from hil.measurement import Measure

REPO = Path(__file__).resolve().parents[2]
#: The longest any single case may take before it counts as a hang.
HANG_S = 60


def bounded(call, seconds: float = HANG_S):
    """``call()``'s result, or a failure if it has not returned within ``seconds`` (it runs
    in a daemon thread, so a hang fails the test instead of the suite)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the shared lock folder -----------------------------------------------------------------------


@pytest.fixture
def board_pool(tmp_path):
    board = parse_device_spec("sim:speck2fmodule@H1")
    pool = BoardPool("sim:speck2fmodule:*", [board], tmp_path / "locks")
    return pool, pool.lock_path(board)


def test_a_planted_owner_link_is_replaced_not_followed(board_pool, tmp_path):
    pool, lock = board_pool
    lock.parent.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("someone's file\n")
    lock.with_suffix(".owner").symlink_to(victim)
    lease = pool.try_lease()
    assert lease is not None
    assert victim.read_text() == "someone's file\n"
    owner = lock.with_suffix(".owner")
    assert not owner.is_symlink() and "pid" in owner.read_text()
    assert stat.S_IMODE(owner.stat().st_mode) == 0o644  # nobody else rewrites it
    lease.release()
    assert victim.read_text() == "someone's file\n"


@pytest.mark.parametrize(
    "owner",
    [b"\xff\xfe not utf-8 \x1b[31m\nsecond line", b"x" * 100_000, "fifo"],
    ids=["not-utf8", "huge", "fifo"],
)
def test_an_owner_file_is_read_as_data(owner, board_pool):
    pool, lock = board_pool
    lease = pool.try_lease()
    path = lock.with_suffix(".owner")
    path.unlink()
    if owner == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(owner)
    with pytest.raises(NoBoardFree) as error:
        bounded(lambda: pool.lease(0.0))
    line = one_line(str(error.value), "board H1")
    assert line.isprintable() and len(line) < 400
    lease.release()


def test_a_lock_that_is_a_link_is_refused_without_waiting(board_pool, tmp_path):
    pool, lock = board_pool
    lock.parent.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("someone's file\n")
    lock.symlink_to(victim)
    before = snapshot(tmp_path)
    with pytest.raises(NoBoardFree) as error:
        bounded(lambda: pool.lease(wait_s=3600), seconds=HANG_S)
    assert "symbolic link" in one_line(str(error.value), lock.name)
    assert snapshot(tmp_path) == before


def test_the_lock_folder_is_made_for_every_user(board_pool):
    pool, lock = board_pool
    pool.try_lease().release()
    assert stat.S_IMODE(lock.parent.stat().st_mode) == 0o1777  # sticky, like /tmp


# --- measurement values: checked when measured ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "word"),
    [
        ("flag", True, "boolean"),
        ("huge", 10**400, "401 digits"),
        ("odd\udcff", 1.0, "name"),
        ("text", "3", "str"),
    ],
    ids=["bool", "10**400", "lone-surrogate-name", "string"],
)
def test_a_value_no_record_holds_is_refused_when_measured(name, value, word):
    measure = Measure()
    with pytest.raises((TypeError, ValueError)) as error:
        measure(name, value, "u")
    one_line(str(error.value), word)
    assert measure.measurements == []


def test_values_a_record_holds_are_normalised_when_measured():
    measure = Measure()
    assert measure("third", Fraction(1, 3)).value == pytest.approx(1 / 3)
    assert isinstance(measure("big", 2**70).value, float)
    assert measure("note", 1, note="file b'\udcff'").note.isascii()


# --- the history store, checked at open -----------------------------------------------------------


def _history(folder: Path, change) -> Path:
    from hil.history.store import HistoryStore

    path = folder / "h.sqlite"
    HistoryStore(str(path)).close()
    change(path)
    return path


def _sql(statement: str):
    def change(path: Path) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute(statement)

    return change


def _foreign(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:] = b"\x55" * (len(data) - 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_foreign, "another program's tables (users)"),
        (_sql("UPDATE hil_meta SET value = 'one' WHERE key = 'schema_version'"), "'one'"),
        (_corrupt, "malformed"),
        (lambda path: path.write_text("lab notes\n"), "not a database"),
    ],
    ids=["foreign-sqlite", "schema-not-a-number", "corrupt", "text-file"],
)
def test_a_history_that_is_not_ours_is_refused_untouched(change, problem, tmp_path, capsys):
    from hil.history.records import HistoryError
    from hil.history.store import HistoryStore

    path = _history(tmp_path, change)
    before = digest(path)
    with pytest.raises(HistoryError) as error:
        HistoryStore(str(path))
    one_line(str(error.value), problem)
    assert str(path) in str(error.value)
    code, _, err = cli(capsys, "history", "runs", "--db", path)
    assert code == EXIT_BAD_INPUT
    one_line(err, problem)
    assert digest(path) == before


@pytest.mark.parametrize("target", ["sqlite:///:memory:", "sqlite://", "/etc/passwd/h.sqlite"])
def test_a_history_that_cannot_keep_runs_is_refused(target):
    from hil.history.records import HistoryError
    from hil.history.store import HistoryStore

    with pytest.raises(HistoryError) as error:
        HistoryStore(target)
    one_line(
        str(error.value),
        "in-memory" if "memory" in target or target == "sqlite://" else "is not a folder",
    )


def test_pytest_refuses_a_foreign_history_before_any_test(pytester):
    path = _history(pytester.path, _foreign)
    before = digest(path)
    pytester.makepyfile("def test_never_runs():\n    raise AssertionError('ran')\n")
    result = pytester.runpytest(NO_BENCHMARK, f"--hil-history={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert one_line(result.stderr.str(), "another program's tables").startswith("ERROR: ")
    assert digest(path) == before


def test_a_history_under_a_file_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("HIL_HISTORY", "/etc/passwd/h.sqlite")
    code, _, err = cli(capsys, "history", "runs")
    assert code == EXIT_BAD_INPUT
    one_line(err, "/etc/passwd/h.sqlite: no such file (a parent is not a folder)")


# --- environment ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["100000", "99999999999999999999", "²"])
def test_absurd_torch_threads_are_refused(value, capsys, monkeypatch):
    monkeypatch.setenv("HIL_TORCH_THREADS", value)
    code, out, err = cli(capsys, "devices")
    assert code == EXIT_BAD_INPUT
    one_line(err, "HIL_TORCH_THREADS")
    assert out == ""


# --- recordings whose data lives elsewhere: no hang, no allocation --------------------------------


@pytest.mark.parametrize("bad", ELSEWHERE_RECORDINGS[1:], ids=repr)
def test_data_elsewhere_is_refused_without_reading_it(bad, tmp_path):
    path = bad.build(tmp_path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(recordings.RecordingError) as error:
        recordings.load(path).events  # noqa: B018
    one_line(str(error.value), bad.names)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 200 * 1024, f"reading the refusal took {grown_kib} KiB"


def test_storage_on_a_fifo_does_not_hang(tmp_path):
    """libhdf5 blocks on the FIFO holding the GIL, so only a process can be timed out."""
    bad = ELSEWHERE_RECORDINGS[0]
    path = bad.build(tmp_path)
    before = snapshot(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "hil.cli", "recordings", "info", path],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert "HDF5 external storage" in one_line(result.stderr, bad.names)
    assert snapshot(tmp_path) == before


# --- calibration at its edges ---------------------------------------------------------------------


@pytest.mark.parametrize("step", ["inf", "nan", "-1"])
def test_a_step_that_never_ends_is_refused(step, tmp_path, capsys):
    out = tmp_path / "lab.toml"
    code, _, err = cli(capsys, "calibrate", "--device", "sim", "--out", out, "--step", step)
    assert code == EXIT_BAD_INPUT
    one_line(err, "--step")
    assert not out.exists()


def _sim_budgets(folder: Path, budget: float) -> Path:
    """A truth for the emulated devkit whose cores have ``budget`` SynOps/s."""
    text = (REPO / "hil" / "chip" / "profiles" / "speck2f.toml").read_text()
    lines = [
        f"synops_per_s = [{', '.join([repr(budget)] * 9)}]"
        if line.startswith("synops_per_s =")
        else line
        for line in text.splitlines()
    ]
    path = folder / f"truth-{budget:g}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_a_slow_core_gives_a_positive_latency(tmp_path, monkeypatch, capsys):
    """A core of 1e6 SynOps/s needs 1568 µs per calibration event: the latency step must not
    queue them (it stored -1487 µs)."""
    import tomllib

    monkeypatch.setenv("HIL_SIM_PROFILE", str(_sim_budgets(tmp_path, 1e6)))
    out = tmp_path / "lab.toml"
    code, _, err = cli(capsys, "calibrate", "--device", "sim", "--cores", "0", "--out", out)
    assert code == 0, err
    profile = tomllib.loads(out.read_text())
    assert profile["timing"]["synops_per_s"][0] == pytest.approx(1e6, rel=0.02)
    assert 0 <= profile["timing"]["pipeline_latency_us"] < 50
    assert 0 <= profile["calibration"]["latency_us_per_core"][0] < 50


def test_a_core_beyond_the_inputs_reach_is_not_measured_not_bad_input(
    tmp_path, monkeypatch, capsys
):
    """A core faster than the input can load (its budget 1e10 needs more than 4e6 events/s)
    is 'not measured' (exit 1, one line naming the core), not bad input; here the input's
    reach is lowered so the sweep is short."""
    from hil.calibration import search

    monkeypatch.setattr(search, "MAX_EVENTS_PER_S", 4e4)
    out = tmp_path / "lab.toml"
    code, _, err = cli(capsys, "calibrate", "--device", "sim", "--cores", "0", "--out", out)
    assert code == 1
    assert one_line(err, "core 0").startswith("speck-hil: not measured: ")
    assert "above what calibration can measure" in err


def test_a_slow_core_is_drained_not_a_device_error():
    """The drain allowed after a step covers its events on the slowest core the profile
    schema allows (1e4 SynOps/s was 'never went quiet', exit 3)."""
    from hil.calibration.search import SYNOPS_PER_EVENT, _drain_s
    from hil.chip.profile_schema import MIN_SYNOPS_PER_S

    assert _drain_s(2000) >= 2000 * SYNOPS_PER_EVENT / MIN_SYNOPS_PER_S


# --- model files: siblings, forks, threads --------------------------------------------------------


HELPER = """
    import sinabs.layers as sl
    from torch import nn


    def net():
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
        )
    """


def test_a_model_file_imports_its_siblings(tmp_path):
    from hil.models import load_model

    (tmp_path / "lab_helper_xyz.py").write_text(textwrap.dedent(HELPER))
    (tmp_path / "model.py").write_text("from lab_helper_xyz import net\n\nbuild = net\n")
    assert load_model(f"{tmp_path / 'model.py'}:build") is not None
    assert str(tmp_path) not in sys.path
    sys.modules.pop("lab_helper_xyz", None)


def test_a_model_that_forks_and_leaves_a_thread(tmp_path):
    """``check`` prints once (the forked child ends in the loader) and ends (the thread the
    model left running ends with the command)."""
    (tmp_path / "helper.py").write_text(textwrap.dedent(HELPER))
    (tmp_path / "model.py").write_text(
        textwrap.dedent(
            """
            import os
            import threading
            import time

            from helper import net


            def build():
                threading.Thread(target=time.sleep, args=(3600,), name="spin").start()
                os.fork()
                return net()
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hil.cli",
            "check",
            "--model",
            f"{tmp_path}/model.py:build",
            "--input-shape",
            "2,16,16",
        ],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("0 error(s)") == 1
    assert one_line(result.stderr, "'spin'")


# --- output paths ---------------------------------------------------------------------------------


def test_a_long_test_id_gets_a_folder_a_file_system_takes(tmp_path):
    from hil.plugin.artifacts import folder_for

    ids = [f"tests/test_x.py::test_a[{'v' * 400}-{n}]" for n in range(2)]
    folders = [folder_for(tmp_path, nodeid) for nodeid in ids]
    assert folders[0] != folders[1]
    for folder in folders:
        assert len(folder.name.encode()) <= 255
        folder.mkdir()


def test_trend_out_a_folder_writes_nothing_beside_it(tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    code, _, err = cli(capsys, "history", "trend", "t::m", "--db", tmp_path / "h", "--out", folder)
    assert code == EXIT_BAD_INPUT
    one_line(err, str(folder))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pictures"]


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    """``speck-hil recordings info ... | head -1``: the reader left; no BrokenPipeError."""
    path = recordings.save(tmp_path / "a.h5", good_events(), (34, 34, 2))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "hil.cli", "recordings", "info", str(path)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    process.stdout.close()  # the reader is gone before the first line is written
    err = process.stderr.read().decode()
    assert process.wait(timeout=HANG_S) == 0
    assert err == ""


@pytest.mark.parametrize("bad", BIG_MODELS, ids=repr)
def test_a_model_file_asking_for_a_lot_is_refused_before_allocating(bad, tmp_path):
    """A few hundred bytes that call ``Linear(100000, 100000)`` (40 GB): sized on torch's meta
    device and refused, the process's peak memory unchanged."""
    from hil.models import ModelError, load_model

    path = bad.build(tmp_path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError) as error:
        load_model(path)
    assert "parameters, more than" in one_line(str(error.value), bad.names)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 200 * 1024, f"refusing it took {grown_kib} KiB"


# --- history import of hostile JSON -----------------------------------------------------------


def _record(**session) -> dict:
    from hil.history.records import RECORD_FORMAT, RECORD_VERSION

    provenance = {"versions": {}, "git": {}, "profile": {}, "host": {"name": "bench"}}
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "session": {
            "run_id": "run-1",
            "started": "2026-01-01T00:00:00+00:00",
            "ended": "2026-01-01T00:01:00+00:00",
            "provenance": provenance,
            "device": {},
            **session,
        },
        "tests": [
            {"nodeid": "t.py::a", "measurements": [{"name": "cost $^$ per run", "value": 1.5}]}
        ],
    }


def _hostile_records() -> dict[str, tuple[str, str]]:
    """File name -> (its JSON text, what its one line must say)."""
    import json

    from hil.history.records import RECORD_VERSION

    def changed(change) -> str:
        record = _record()
        change(record)
        return json.dumps(record)

    def value(record, v):
        record["tests"][0]["measurements"][0]["value"] = v

    return {
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        "digits.json": (changed(lambda r: value(r, 10**400)), "401 digits"),
        "year1.json": (
            json.dumps(_record(started="0001-01-01T00:00:00+05:00")),
            "session.started: the year 1",
        ),
        "year9999.json": (
            json.dumps(_record(started="9999-12-31T23:00:00-05:00")),
            "the year 9999",
        ),
        "device.json": (json.dumps(_record(device="speck")), "session.device is a str"),
        "host.json": (
            changed(lambda r: r["session"]["provenance"].update(host=3)),
            "session.provenance.host is a int",
        ),
        "versions.json": (
            changed(lambda r: r["session"]["provenance"].update(versions=["1.0"])),
            "versions is a list",
        ),
        "replays.json": (
            changed(lambda r: r["tests"][0].update(replays="a.h5")),
            "tests[0].replays",
        ),
        "newer.json": (
            changed(lambda r: r.update(version=RECORD_VERSION + 1)),
            "upgrade speck-hil",
        ),
    }


def test_history_import_of_hostile_json(tmp_path, capsys):
    """Each bad file is one line naming it and its field; the good file after them is stored."""
    import json

    folder = tmp_path / "records"
    folder.mkdir()
    cases = _hostile_records()
    for name, (text, _) in cases.items():
        (folder / name).write_text(text)
    for run in range(3):  # a series of three runs: the report draws its trend
        good = _record(run_id=f"run-{run}", started=f"2026-01-0{run + 1}T00:00:00+00:00")
        (folder / f"z-good-{run}.json").write_text(json.dumps(good))
    db = tmp_path / "h.sqlite"
    code, out, err = bounded(lambda: cli(capsys, "history", "import", folder, "--db", db))
    assert code == EXIT_BAD_INPUT
    lines = err.splitlines()
    assert len(lines) == len(cases), err
    for name, (_, says) in cases.items():
        (line,) = [line for line in lines if f"{name}:" in line]
        assert says in line, line
    assert "z-good-0.json: stored" in out
    # a `$` in a measurement name is text in the trend picture, not mathtext
    picture = tmp_path / "trend.png"
    code, _, err = cli(
        capsys, "history", "trend", "t.py::a::cost $^$ per run", "--db", db, "--out", picture
    )
    assert code == 0, err
    assert picture.stat().st_size > 0


def test_a_refused_run_is_kept_when_the_folder_is_read_only(pytester, monkeypatch, tmp_path):
    """The history refuses the run at the end, no --hil-report is given and the folder pytest
    runs in cannot be written (/proc here): the record goes to the temporary folder, with the
    odd values it holds (a Fraction, a note from a file name that is not UTF-8); a bool value
    fails its test in one line, not the session."""
    import tempfile

    from hil.history.records import HistoryError
    from hil.history.store import HistoryStore

    def refuse(self, entry):
        raise HistoryError("history h.sqlite: cannot store a run: database or disk is full")

    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    monkeypatch.setattr(HistoryStore, "append", refuse)
    monkeypatch.delenv("HIL_REPORT", raising=False)
    test_file = pytester.makepyfile(
        """
        from fractions import Fraction

        def test_bool(measure):
            measure("flag", True)

        def test_fraction(measure):
            measure("third", Fraction(1, 3), lower=0)

        def test_surrogate_note(measure):
            measure("x", 1.0, note="file \\udcff.h5")
        """
    )
    db = pytester.path / "h.sqlite"
    monkeypatch.chdir("/proc")
    result = pytester.runpytest(
        NO_BENCHMARK,
        "-p",
        "no:cacheprovider",
        f"--rootdir={pytester.path}",
        f"--hil-history={db}",
        str(test_file),
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: measurement 'flag': value must be a number*",
            "*this run was NOT stored*",
            f"*run record kept at {spare}*",
        ]
    )
    (kept,) = spare.glob("hil-run-*.json")
    assert '"third"' in kept.read_text() and "test_bool" in kept.read_text()


# --- the manifest writer (tomli-w, atomic, under a lock: on main from the conversion work) -----


@pytest.fixture
def library(tmp_path):
    """A recordings folder with one entry, ``a``, and a recording to add."""
    folder = tmp_path / "library"
    folder.mkdir()
    source = recordings.save(tmp_path / "b.h5", good_events(seed=7), (34, 34, 2))
    recordings.save(folder / "a.h5", good_events(), (34, 34, 2))
    recordings.add_to_manifest(folder / "a.h5", "the first")
    return folder, source


@pytest.mark.parametrize(
    "argv",
    [
        ("--name", "b", "--description", 'two\nlines, "quoted" \\ and ü'),
        ("--name", "café"),
    ],
    ids=["description-with-newline", "non-ascii-name"],
)
def test_an_added_entry_never_breaks_the_manifest(argv, library, capsys):
    folder, source = library
    code, _, err = cli(capsys, "recordings", "add", source, "--dir", folder, *argv)
    assert code in (0, EXIT_BAD_INPUT)
    if code:
        one_line(err, argv[1])
    entries = recordings.read_manifest(folder)  # still TOML, every entry still there
    assert entries["a"].description == "the first"
    if code == 0:
        assert len(recordings.by_name(argv[1], folder)) == len(good_events(seed=7))
        if "--description" in argv:
            assert entries[argv[1]].description == argv[3]


def test_synth_into_the_manifest_with_an_odd_file_name(library, capsys):
    folder, _ = library
    out = folder / "bar v1.2.h5"
    code, _, err = cli(
        capsys,
        "recordings",
        "synth",
        "poisson",
        out,
        "--duration",
        "0.01",
        "--add-to-manifest",
        "odd name",
    )
    assert code in (0, EXIT_BAD_INPUT)
    if code:
        one_line(err, "bar v1.2")
    assert recordings.read_manifest(folder)["a"].description == "the first"


def test_adding_over_a_name_is_refused_without_replace(library, capsys):
    folder, source = library
    manifest = folder / recordings.MANIFEST
    before = manifest.read_bytes()
    code, _, err = cli(capsys, "recordings", "add", source, "--dir", folder, "--name", "a")
    assert code == EXIT_BAD_INPUT
    one_line(err, "already has a; give --replace")
    assert manifest.read_bytes() == before


def test_concurrent_adds_keep_every_entry(library):
    from hil.recordings import folders

    folder, source = library
    names = [f"n{i}" for i in range(4)]
    threads = [
        threading.Thread(target=folders.add, args=([source], folder, name)) for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_S)
    assert set(recordings.read_manifest(folder)) == {"a", *names}
