"""What an SQLite history file must be before a session trusts it, checked when it is opened.

A run's measurements are stored after its last test; a history that cannot take them must be
found before the first test starts. So the file is checked with ``sqlite3`` directly, before
SQLAlchemy creates anything in it: its folder can hold it, it is an SQLite database, it is a
speck-hil history (not another program's file, whose tables would otherwise get ours beside
them), its schema version is a number, it is not corrupt, and it can be written now (a
read-only file or one another process keeps locked is refused at once instead of after a
silent wait of minutes at the session's end).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hil.files import unreadable_file, unwritable_file

#: How long the open-time check waits for another writer before calling the file locked.
LOCK_WAIT_S = 5.0
SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_problem(database: str | None, create: bool, meta_table: str) -> str | None:
    """Why the SQLite history ``database`` (a path, ``:memory:`` or empty) cannot be used, or
    None when it can; ``create``: it is written to (a session), not only read. A history has
    the table ``meta_table`` with its schema version."""
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
        return _database_problem(path, create, meta_table)
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            return f"is locked by another process (waited {LOCK_WAIT_S:g} s)"
        return f"cannot be read as a history ({_plain(exc)})"


def _database_problem(path: Path, create: bool, meta_table: str) -> str | None:
    connection = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
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
                    return f"is locked by another process (waited {LOCK_WAIT_S:g} s)"
                return f"cannot be written ({_plain(exc)})"
    finally:
        connection.close()
    return None


def _plain(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
