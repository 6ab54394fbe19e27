"""The history at a lab's scale: one year of nightly runs on five boards is about 2000 runs.

Goals (issue 24): the store reads 2000 runs x 200 series in at most 2 s; ``history
regressions`` finishes in at most 2 s on it; the report of a trial's history (27 runs x 226
series) takes under 10 s and stays under 2 MB. Asserted when timed (``make bench``); the
untimed run ``make test`` makes uses a small history and checks the results only. The goals
are asserted on the process's CPU time (the wall time of an idle machine: the work is one
thread), so a machine other jobs share cannot fail them; the wall time, the CPU time and the
load average are in the benchmark's extra info (``--benchmark-json FILE``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import numpy as np
import pytest
import sqlalchemy as sa

from hil.cli import main
from hil.history.html import write_report
from hil.history.incidents import assess
from hil.history.store import HistoryStore, results, runs

START = dt.datetime(2025, 1, 1, 2, 0, tzinfo=dt.timezone.utc)


def _cpu(benchmark, function):
    """Benchmark ``function`` (3 rounds); its result and the median CPU seconds of a round.
    The median wall and CPU seconds and the load average are in the benchmark's extra
    info (``wall_s``, ``cpu_s``, ``load``)."""
    cpu: list[float] = []
    wall: list[float] = []

    def timed():
        started, clock = time.process_time(), time.perf_counter()
        result = function()
        cpu.append(time.process_time() - started)
        wall.append(time.perf_counter() - clock)
        return result

    result = benchmark.pedantic(timed, rounds=3, iterations=1)
    median = float(np.median(cpu))
    benchmark.extra_info.update(
        cpu_s=round(median, 3),
        wall_s=round(float(np.median(wall)), 3),
        load=round(os.getloadavg()[0], 2),
    )
    return result, median


def _bulk_history(path, n_runs: int, n_series: int, shifted: int, ar: bool = True) -> str:
    """An SQLite history of ``n_runs`` nightly runs of ``n_series`` series, written in two
    bulk inserts: quiet series, ``shifted`` of them (``_shifted``) rising 4 σ for good at
    60 % of the runs (one incident on the board), with ``ar`` a tenth with AR(1) φ = 0.8
    noise."""
    url = str(path)
    with HistoryStore(url):
        pass
    rng = np.random.default_rng(0)
    values = 100 + 2.5 * rng.standard_normal((n_series, n_runs))
    for s in range(0, n_series, 10) if ar else ():
        for i in range(1, n_runs):
            values[s, i] = 100 + 0.8 * (values[s, i - 1] - 100) + 1.5 * rng.standard_normal()
    for s in _shifted(n_series, shifted):
        values[s, int(0.6 * n_runs) :] += 10.0
    provenance = json.dumps(
        {
            "versions": {"harness": "0.1.0", "sinabs": "3.1.3"},
            "session": {
                "provenance": {"harness_git": {"commit": "c" * 40}, "emulated_truth": None}
            },
        }
    )
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            runs.insert(),
            [
                {
                    "run_id": f"run{i:05d}",
                    "started": START + dt.timedelta(hours=4 * i),
                    "stored": START,
                    "source": "pytest",
                    "host": "lab-host",
                    "git_commit": "a" * 40,
                    "harness_version": "0.1.0",
                    "sinabs_version": "3.1.3",
                    "device_type": "speck2fmodule",
                    "serial": "SER1",
                    "profile": "speck2f",
                    "profile_sha256": "ab" * 32,
                    "provenance": provenance,
                }
                for i in range(n_runs)
            ],
        )
        connection.execute(
            results.insert(),
            [
                {
                    "run": i + 1,
                    "test": f"tests/hil/test_lab.py::test_{s // 10}",
                    "measurement": f"m{s % 10}",
                    "serial": "SER1",
                    "profile": "speck2f",
                    "value": float(values[s, i]),
                    "unit": "µs",
                    "upper": 500.0,
                    "outcome": "pass",
                }
                for i in range(n_runs)
                for s in range(n_series)
            ],
        )
    engine.dispose()
    return url


def _shifted(n_series: int, shifted: int) -> list[int]:
    return [3 + k * ((n_series - 3) // shifted) for k in range(shifted)]


def _name(s: int) -> str:
    return f"tests/hil/test_lab.py::test_{s // 10}::m{s % 10}"


@pytest.fixture(scope="session")
def lab_history(tmp_path_factory, bench_size):
    runs_, series = bench_size(2000, 120), bench_size(200, 20)
    path = tmp_path_factory.mktemp("lab") / "lab.sqlite"
    return _bulk_history(path, runs_, series, shifted=series // 25), runs_, series


def test_the_store_reads_a_labs_year(benchmark, lab_history):
    url, n_runs, n_series = lab_history

    def read():
        with HistoryStore(url, create=False) as store:
            return store.load()

    history, cpu = _cpu(benchmark, read)
    assert len(history.runs) == n_runs and len(history.series) == n_series
    assert all(len(s.values) == n_runs for s in history.series.values())
    assert history.runs[0].harness_commit == "c" * 40
    if benchmark.stats is not None:
        assert cpu <= 2.0


def test_history_regressions_on_a_labs_year(benchmark, lab_history, capsys):
    url, _, n_series = lab_history

    def regressions():
        status = main(["history", "regressions", "--db", url, "--format", "json"])
        return status, capsys.readouterr().out

    (status, out), cpu = _cpu(benchmark, regressions)
    assert status == 0
    found = json.loads(out)
    shifted = {_name(s) for s in _shifted(n_series, n_series // 25)}
    worse = {f["series"] for f in found if f["direction"] == "worse"}
    assert shifted <= worse  # every shift found ...
    assert len(found) <= len(shifted) + max(1, n_series // 50)  # ... and hardly anything else
    if benchmark.stats is not None:
        assert cpu <= 2.0


def test_the_report_of_a_trials_history(benchmark, tmp_path_factory, bench_size):
    """27 nights of 226 series with one incident of 12 series (an aged core's); a series or
    two of noise may cross the bar too (1 in 200 do in 27 runs)."""
    n_series, aged = bench_size(226, 12), bench_size(12, 3)
    path = tmp_path_factory.mktemp("trial") / "trial.sqlite"
    url = _bulk_history(path, 27, n_series, shifted=aged, ar=False)
    with HistoryStore(url, create=False) as store:
        history, acceptances = store.load(), store.acceptances()
    out = tmp_path_factory.mktemp("report")

    page, cpu = _cpu(benchmark, lambda: write_report(out, history, acceptances))
    size = sum(p.stat().st_size for p in out.iterdir())
    pictures = len(list(out.glob("*.png")))
    incidents = assess(history, acceptances).incidents
    assert any(len(i.findings) == aged for i in incidents)  # the aged core's, all its series
    assert pictures == len({f.key for i in incidents for f in i.findings})  # those only
    benchmark.extra_info.update(bytes=size, pictures=pictures)
    assert size < 2_000_000
    if benchmark.stats is not None:
        assert cpu < 10.0
    assert page.read_text().count('class="spark"') == n_series
