"""Histories for the history tests: run records made up in memory, and a store on SQLite or,
when ``HIL_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it), on a real PostgreSQL server, in
a schema of its own per test."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

POSTGRES_ENV = "HIL_TEST_POSTGRES_URL"
START = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)


def run_record(
    measurements: list[dict],
    night: int = 0,
    test: str = "tests/hil/test_net.py::test_gesture",
    serial: str = "SER1",
    profile: str = "speck2f",
    commit: str | None = None,
    run_id: str | None = None,
) -> dict:
    """A version-2 run record of one test, started on ``night`` nights after START."""
    started = START + dt.timedelta(days=night)
    return {
        "format": "speck-hil run record",
        "version": 2,
        "session": {
            "run_id": run_id or uuid.uuid4().hex,
            "started": started.isoformat(),
            "ended": (started + dt.timedelta(minutes=5)).isoformat(),
            "exitstatus": 0,
            "device_spec": "sim",
            "device": {
                "kind": "emulated",
                "device_type": "speck2fmodule",
                "serial": serial,
                "samna_version": "emulated",
                "profile": profile,
                "name": f"speck2fmodule@{serial}",
                "logic_version": "0",
            },
            "device_error": None,
            "scope": "session",
            "profile": profile,
            "git_commit": commit or f"{night:040x}",
            "rootdir": "/lab",
            "provenance": {
                "versions": {
                    "harness": "0.1.0",
                    "sinabs": "3.1.3",
                    "torch": "2.13.0",
                    "samna": "emulated",
                },
                "host": {"name": "lab-host", "platform": "Linux", "python": "3.11"},
                "git": {"commit": commit or f"{night:040x}", "branch": "main"},
                "profile": {
                    "name": profile,
                    "sha256": "ab" * 32,
                    "budgets_measured": False,
                    "content": {"name": profile},
                },
            },
        },
        "tests": [
            {
                "nodeid": test,
                "outcome": "passed",
                "duration_s": 1.0,
                "measurements": [
                    {
                        "unit": "µs",
                        "lower": None,
                        "upper": None,
                        "marginal": None,
                        "limit": "",
                        "outcome": "pass",
                        "note": "",
                        "better": None,
                        **m,
                    }
                    for m in measurements
                ],
                "replays": [{"recording": "wave", "sha256": "cd" * 32, "config_hash": "ef" * 32}],
                "artifacts": [],
                "device_error": None,
                "recovery": None,
                "message": None,
            }
        ],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request, tmp_path):
    """The same tests on an SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield str(tmp_path / "history.sqlite")
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        if os.environ.get("CI"):
            pytest.fail(f"CI without PostgreSQL: .ci/run must set {POSTGRES_ENV}")
        pytest.skip(f"no PostgreSQL server: {POSTGRES_ENV} is unset (.ci/run sets it)")
    import sqlalchemy as sa

    from hil.history.store import database_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(database_url(server))
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in server else "?"
    yield f"{server}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
