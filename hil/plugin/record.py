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

``serial`` is the board a device test ran on. Text UTF-8 cannot hold (a test id from a file
name or a parametrization that is not UTF-8) is kept as its escape (``\\udcff``), so the
record can always be written and stored.

A write that fails (a full disk, an I/O error) never stops the session: it is said once,
the record stays whole in memory, each later write tries again, and one that still fails
when the session ends leaves ``unwritten`` set for the session to keep the record elsewhere.
 With a pool, ``session.pool`` holds the leases
(``hil.plugin.pool``); under pytest-xdist, ``session.workers`` what each worker's session
knew (``hil.plugin.workers``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil.files import write_atomic
from hil.measurement import storable_text

FORMAT = "speck-hil run record"
VERSION = 2


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class RunRecord:
    """The session's record; ``path`` None keeps it in memory only (for the terminal).
    ``warn`` is told, in one line, when writing it first fails."""

    def __init__(self, path: Path | None, session: dict, warn: Callable[[str], None] = print):
        self.path = path
        self.warn = warn
        #: why the latest write failed (None: the file holds the whole record)
        self.unwritten: str | None = None
        self.session = {
            "run_id": uuid.uuid4().hex,
            "started": now(),
            "ended": None,
            "exitstatus": None,
            **session,
        }
        self.tests: list[dict] = []

    def add_test(self, test: dict) -> None:
        self.tests.append(storable(test))
        self.write()

    def finish(self, exitstatus: int) -> None:
        """The session's end, once (the history stores the record the first call wrote)."""
        if self.session["ended"] is None:
            self.session["ended"] = now()
        self.session["exitstatus"] = int(exitstatus)
        self.write()

    def as_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "session": storable(self.session),
            "tests": self.tests,
        }

    def write(self) -> None:
        if self.path is None:
            return
        text = json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n"
        try:
            write_atomic(self.path, text)
        except OSError as exc:
            if self.unwritten is None:
                self.warn(
                    f"--hil-report {self.path}: cannot be written ({exc.strerror or exc}); "
                    "the tests go on, the record is kept in memory and written when it can be"
                )
            self.unwritten = exc.strerror or str(exc)
            return
        self.unwritten = None


def storable(data: Any) -> Any:
    """``data`` (JSON-like) with every text UTF-8 can hold (``storable_text``)."""
    if isinstance(data, str):
        return storable_text(data)
    if isinstance(data, dict):
        return {storable(k): storable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [storable(v) for v in data]
    return data
