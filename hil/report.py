"""The run record (JSON).

The record is rewritten after every test, atomically, so a session that dies midway (a
segfault in a driver, a power cut) still leaves a valid file holding every finished test.
Layout (version 2; version 1 had no ``run_id``, ``provenance`` or ``replays``)::

    {"format": "speck-hil run record", "version": 2,
     "session": {"run_id": str, "device": {...} | null, "device_error": str | null,
                 "scope": ..., "profile": ..., "git_commit": str | null, "rootdir": ...,
                 "provenance": {"versions": {"harness", "sinabs", "torch", "samna"},
                                "host": {...}, "git": {"commit", "branch"} | null,
                                "profile": {"name", "sha256", "budgets_measured", "content"}},
                 "started": ISO time, "ended": ISO time | null, "exitstatus": int | null},
     "tests": [{"nodeid", "outcome", "duration_s", "measurements": [...],
                "replays": [{"recording", "sha256", "config_hash"}],
                "artifacts": [...], "device_error": str | null, "recovery": str | null,
                "message": str | null, "serial": str | null}]}

``serial`` is the board a device test ran on. With a pool, ``session.pool`` holds the leases
(``hil.pytest_pool``); under pytest-xdist, ``session.workers`` what each worker's session
knew (``hil.pytest_workers``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import uuid
from pathlib import Path

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.fchmod(fd, _default_mode())  # mkstemp's 0600 would hide the record from the lab
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.as_dict(), f, indent=1, ensure_ascii=False)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
