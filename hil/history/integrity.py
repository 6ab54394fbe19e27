"""What an SQLite history file must be before a session trusts it, checked when it is opened.

A run's measurements are stored after its last test; a history that cannot take them must be
found before the first test starts. So the file is checked with ``sqlite3`` directly, before
SQLAlchemy creates anything in it: its folder can hold it, it is an SQLite database, it is a
speck-hil history (not another program's file, whose tables would otherwise get ours beside
them), its schema version is a number, it is not corrupt, and it can be written now (a
read-only file is refused at once instead of after a silent wait at the session's end).

Another process writing the history (a nightly job appending, an import) is no fault of the
file: the check waits for it, saying so in one line that names the file and the processes
that have it open, for at most ``$HIL_HISTORY_LOCK_WAIT`` seconds (60 by default; 0 refuses
at once), then refuses it naming the variable.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hil.files import unreadable_file, unwritable_file

LOCK_WAIT_ENV = "HIL_HISTORY_LOCK_WAIT"
#: How long the open-time check waits for another writer by default, and at most.
LOCK_WAIT_S = 60.0
MAX_LOCK_WAIT_S = 24 * 3600.0
#: A writer that is only committing is waited for this long without a word.
QUIET_WAIT_S = 1.0
SQLITE_HEADER = b"SQLite format 3\x00"


class _Locked(Exception):
    """Another connection holds the lock the check needs."""


def lock_wait(environ: dict[str, str] | None = None) -> float:
    """``$HIL_HISTORY_LOCK_WAIT`` in seconds (``LOCK_WAIT_S`` when unset)."""
    text = (os.environ if environ is None else environ).get(LOCK_WAIT_ENV, "").strip()
    if not text:
        return LOCK_WAIT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_LOCK_WAIT_S:  # also refuses nan
        raise ValueError(
            f"{LOCK_WAIT_ENV}={text!r}: expected seconds from 0 to {MAX_LOCK_WAIT_S:g}"
        )
    return seconds


def sqlite_problem(
    database: str | None,
    create: bool,
    meta_table: str,
    waiting: Callable[[str], None] | None = None,
) -> str | None:
    """Why the SQLite history ``database`` (a path, ``:memory:`` or empty) cannot be used, or
    None when it can; ``create``: it is written to (a session), not only read. A history has
    the table ``meta_table`` with its schema version. ``waiting`` is told, in one line, when
    the check waits for another process's lock."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return "an in-memory database is gone when the process ends; give a file"
    path = Path(database)
    if not path.exists():
        return unwritable_file(path) if create else unreadable_file(path)
    if not path.is_file():
        return "is not a regular file"
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        return "file is not a database (no SQLite header; nothing was written to it)"
    if not header:
        return None  # an empty file: SQLite makes it a database
    try:
        wait = lock_wait()
    except ValueError as exc:
        return str(exc)
    try:
        try:
            return _database_problem(path, create, meta_table, min(wait, QUIET_WAIT_S))
        except _Locked:
            if wait <= QUIET_WAIT_S:
                raise
        if waiting is not None:
            waiting(
                f"history {path}: locked by another process{_holders(path)}; waiting up to "
                f"{wait:g} s for it (${LOCK_WAIT_ENV} sets how long)"
            )
        return _database_problem(path, create, meta_table, wait)
    except _Locked:
        return (
            f"is locked by another process{_holders(path)} (waited {wait:g} s; "
            f"${LOCK_WAIT_ENV} sets how long)"
        )
    except sqlite3.DatabaseError as exc:
        return f"cannot be read as a history ({_plain(exc)})"


def _database_problem(path: Path, create: bool, meta_table: str, wait: float) -> str | None:
    connection = sqlite3.connect(path, timeout=wait, isolation_level=None)
    try:
        return _problem_in(connection, create, meta_table)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _Locked from None
        raise
    finally:
        connection.close()


def _problem_in(connection: sqlite3.Connection, create: bool, meta_table: str) -> str | None:
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if _being_made(connection, tables, meta_table):
        return None if create else "is being created by another process; try again"
    if tables and meta_table not in tables:
        listed = ", ".join(sorted(tables)[:4])
        return f"holds another program's tables ({listed}), not a speck-hil history; refused"
    if meta_table in tables:
        row = connection.execute(
            f"SELECT value FROM {meta_table} WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            return "has a meta table without a schema version: not a speck-hil history"
        if not str(row[0]).strip().isdigit():
            return f"its schema version is {row[0]!r}, not a number (not a speck-hil history?)"
    check = connection.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        return f"is corrupt (SQLite's check: {check[0] if check else 'no answer'})"
    if create:
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            return f"cannot be written ({_plain(exc)})"
    return None


def _being_made(connection: sqlite3.Connection, tables: set[str], meta_table: str) -> bool:
    """Another session is creating this history right now: its tables appear one by one and
    the schema version comes last, so a check in between sees only empty tables of ours
    (named like ``meta_table``) and no version. Two nightly jobs starting on a new history
    at once meet this."""
    prefix = meta_table.partition("_")[0] + "_"
    if not tables or not all(name.startswith(prefix) for name in tables):
        return False
    return all(
        connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() is None for name in tables
    )


def _holders(path: Path) -> str:
    """`` (pid N: its command)`` for each other process that has the history (or its journal)
    open, read from /proc (Linux); empty where that cannot be told. A command line is data
    from another process: shown printable and short."""
    names = {str(path.resolve()) + suffix for suffix in ("", "-journal", "-wal")}
    found = []
    for fds in Path("/proc").glob("[0-9]*/fd"):
        pid = fds.parent.name
        if pid == str(os.getpid()):
            continue
        try:
            if not any(os.readlink(fd) in names for fd in fds.iterdir()):
                continue
            command = (fds.parent / "cmdline").read_bytes()[:200]
        except OSError:
            continue
        text = command.replace(b"\0", b" ").decode("utf-8", "replace").strip()
        text = "".join(c if c.isprintable() else "?" for c in text)[:60]
        found.append(f"pid {pid}: {text}" if text else f"pid {pid}")
    return f" ({'; '.join(found[:3])})" if found else ""


def _plain(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
