"""The run record (JSON).

The record is rewritten after every test, atomically, so a session that dies midway (a
segfault in a driver, a power cut) still leaves a valid file holding every finished test.
Layout (version 2; version 1 had no ``run_id``, ``provenance`` or ``replays``)::

    {"format": "speck-hil run record", "version": 2,
     "session": {"run_id": str, "device": {...} | null, "device_error": str | null,
                 "scope": ..., "profile": ..., "git_commit": str | null, "rootdir": ...,
                 "provenance": {"versions": {"harness", "sinabs", "torch", "samna"},
                                "host": {...}, "git": {"commit", "branch"} | null,
                                "harness_git": {"commit", "branch", "dirty"} | null,
                                "emulated_truth": {"HIL_SIM_PROFILE", ...} | null,
                                "profile": {"name", "sha256", "budgets_measured", "content"}},
                 "started": ISO time, "ended": ISO time | null, "exitstatus": int | null},
     "tests": [{"nodeid", "outcome", "duration_s", "measurements": [...],
                "replays": [{"recording", "sha256", "config_hash"}],
                "artifacts": [...], "device_error": str | null, "recovery": str | null,
                "message": str | null, "serial": str | null}]}

``serial`` is the board a device test ran on. With a pool, ``session.pool`` holds the leases
(``hil.plugin.pool``); under pytest-xdist, ``session.workers`` what each worker's session
knew (``hil.plugin.workers``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from hil.files import write_atomic

FORMAT = "speck-hil run record"
VERSION = 2


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class RunRecord:
    """The session's record; ``path`` None keeps it in memory only (for the terminal)."""

    def __init__(self, path: Path | None, session: dict):
        self.path = path
        self.session = {
            "run_id": uuid.uuid4().hex,
            "started": now(),
            "ended": None,
            "exitstatus": None,
            **session,
        }
        self.tests: list[dict] = []

    def add_test(self, test: dict) -> None:
        self.tests.append(test)
        self.write()

    def finish(self, exitstatus: int) -> None:
        self.session["ended"] = now()
        self.session["exitstatus"] = int(exitstatus)
        self.write()

    def as_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "session": self.session, "tests": self.tests}

    def write(self) -> None:
        if self.path is None:
            return
        write_atomic(self.path, json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n")
