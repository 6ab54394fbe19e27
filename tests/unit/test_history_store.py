"""The history store, on SQLite and on PostgreSQL: runs kept whole, never overwritten,
ordered by start time, safe with two writers at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from history_fixtures import history_url, run_record  # noqa: F401 (fixture)

from hil.history.records import HistoryError, from_record
from hil.history.store import HistoryStore, SeriesKey, database_url, meta, metadata

TEST = "tests/hil/test_net.py::test_gesture"


def _entry(night: int, value: float, **kwargs):
    return from_record(run_record([{"name": "delay_max", "value": value}], night, **kwargs))


def test_runs_are_stored_whole_with_their_provenance(history_url):  # noqa: F811
    with HistoryStore(history_url) as store:
        for night in (2, 0, 1):  # stored out of order, read back by start time
            assert store.append(_entry(night, 100.0 + night))
        runs = store.runs()
        assert [r.git_commit for r in runs] == [f"{n:040x}" for n in (0, 1, 2)]
        assert runs[0].versions == {
            "harness": "0.1.0",
            "sinabs": "3.1.3",
            "torch": "2.13.0",
            "samna": "emulated",
        }
        assert (runs[0].serial, runs[0].profile, runs[0].results) == ("SER1", "speck2f", 1)
        key = SeriesKey(TEST, "delay_max", "SER1", "speck2f")
        assert store.series() == [key]
        assert [p.value for p in store.points(key)] == [100.0, 101.0, 102.0]
        with store.engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT logic_version, budgets_measured, profile_sha256 FROM hil_runs")
            ).first()
            replay = connection.execute(
                sa.text("SELECT recording, sha256 FROM hil_replays")
            ).first()
        assert row == ("0", False, "ab" * 32)
        assert replay == ("wave", "cd" * 32)


def test_a_run_is_never_overwritten_and_series_are_per_serial(history_url):  # noqa: F811
    with HistoryStore(history_url) as store:
        first = _entry(0, 100.0, run_id="same")
        assert store.append(first)
        assert not store.append(_entry(1, 999.0, run_id="same"))  # same run again: kept once
        store.append(_entry(1, 50.0, serial="SER2"))
        store.append(_entry(2, float("nan")))
        keys = store.series()
        assert [k.serial for k in keys] == ["SER1", "SER2"]
        assert [p.value for p in store.points(keys[0])] == [100.0, None]


def test_the_whole_history_is_read_as_each_series_alone(history_url):  # noqa: F811
    """``load`` numbers the series in the database and reads the values in storage order;
    every series it gives equals the series read alone by start time (runs stored out of
    order, a value that is not a number, two boards, two tests), and ``keys`` gives those
    only."""
    other = "tests/hil/test_net.py::test_speed"
    with HistoryStore(history_url) as store:
        for night in (3, 0, 2, 1):
            value = float("nan") if night == 2 else 100.0 + night
            store.append(_entry(night, value))
            store.append(_entry(night, 50.0 - night, serial="SER2"))
            store.append(_entry(night, 7.0 * night, test=other))
        history = store.load()
        assert list(history.series) == store.series()
        for key, series in history.series.items():
            points = store.points(key)
            started = [history.runs[i].started for i in series.runs]
            assert started == [p.started for p in points], key
            expected = [float("nan") if p.value is None else p.value for p in points]
            assert series.values.tolist() == pytest.approx(expected, nan_ok=True), key
        wanted = {SeriesKey(other, "delay_max", "SER1", "speck2f")}
        only = store.load(keys=wanted)
        assert set(only.series) == wanted
        assert only.series[next(iter(wanted))].values.tolist() == [0.0, 7.0, 14.0, 21.0]


def test_two_processes_appending_at_once_lose_nothing(history_url, tmp_path):  # noqa: F811
    """Both also create the (absent) schema at once."""
    go = tmp_path / "go"
    writer = textwrap.dedent(
        """
        import os, sys, time
        sys.path.insert(0, sys.argv[3])
        from history_fixtures import run_record
        from hil.history.records import from_record
        from hil.history.store import HistoryStore
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.01)
        store = HistoryStore(sys.argv[1])
        for night in range(25):
            m = [{"name": f"m{i}", "value": float(night)} for i in range(20)]
            assert store.append(from_record(run_record(m, night)))
        """
    )
    here = str(__import__("pathlib").Path(__file__).parent)
    writers = [
        subprocess.Popen([sys.executable, "-c", writer, history_url, str(go), here])
        for _ in range(2)
    ]
    go.touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with HistoryStore(history_url) as store:
        runs = store.runs()
        assert len(runs) == 50
        assert sum(r.results for r in runs) == 50 * 20


def _half_made(path, *statements: str) -> None:
    """A history as another session leaves it while it creates it: every table, no version."""
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_a_history_another_session_is_creating_is_joined_not_refused(tmp_path):
    """Two nightly jobs starting on a new history at once: the second one's check at open
    once saw the tables without the version yet and refused the file as not a history."""
    path = tmp_path / "history.sqlite"
    _half_made(path)
    with pytest.raises(HistoryError, match="being created by another process"):
        HistoryStore(str(path), create=False)
    with HistoryStore(str(path)) as store:
        assert store.append(from_record(run_record([{"name": "m", "value": 1.0}], 0)))
        assert len(store.runs()) == 1


def test_tables_of_ours_holding_rows_without_a_version_are_still_refused(tmp_path):
    path = tmp_path / "history.sqlite"
    _half_made(path, f"INSERT INTO {meta.name} (key, value) VALUES ('owner', 'another program')")
    with pytest.raises(HistoryError, match="meta table without a schema version"):
        HistoryStore(str(path))


def test_an_unreachable_server_is_one_line_without_the_password():
    with pytest.raises(HistoryError) as error:
        HistoryStore("postgresql://lab:s3cret@127.0.0.1:9/nightly")
    message = str(error.value)
    assert "127.0.0.1:9/nightly" in message and "s3cret" not in message
    assert "\n" not in message


def test_reading_never_creates_a_history(tmp_path):
    missing = tmp_path / "none.sqlite"
    with pytest.raises(HistoryError, match="no such file"):
        HistoryStore(str(missing), create=False)
    assert not missing.exists()


def test_a_newer_schema_is_refused(history_url):  # noqa: F811
    with HistoryStore(history_url) as store, store.engine.begin() as connection:
        connection.execute(meta.update().values(value="99"))
    with pytest.raises(HistoryError, match="schema version 99"):
        HistoryStore(history_url)


def test_urls_and_paths():
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert database_url("h.sqlite").startswith("sqlite:////")
