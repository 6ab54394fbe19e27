"""The files of the shared lock folder, handled as what another user may have planted there.

The lock folder (``/tmp/speck-hil-locks`` by default) is writable by every user of the host, so
anything in it may be a link to someone's file, a FIFO or bytes that are not text. Here a lock
file is refused when it is not a regular file (filelock opens it without following links and
would fail with a traceback otherwise), an owner file is written by renaming a fresh file onto
its name (a planted link is replaced, never followed) and read as data: opened without
following links or blocking, at most ``OWNER_BYTES`` of it, decoded leniently, printable
characters only.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

#: The most of an owner file read: it is one line saying who holds a board.
OWNER_BYTES = 200
#: A lock file must be writable by every user of the host (filelock opens it read-write); an
#: owner file only by the session that writes it.
LOCK_MODE = 0o666
OWNER_MODE = 0o644


class LockRefused(Exception):
    """A lock file that is not a lock file (a link, a folder, a FIFO): one line naming it."""


def make_lock_folder(folder: Path) -> None:
    """Create the folder for every user of the host (sticky, like /tmp: nobody removes or
    replaces another user's files)."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            folder.chmod(0o1777)


def try_lock(path: Path) -> FileLock | None:
    """The lock at ``path``, held now, or None when another process holds it; ``LockRefused``
    when the path is not a regular file."""
    problem = _not_a_lock_file(path)
    if problem:
        raise LockRefused(f"{path}: {problem} (refused; remove it to use the board)")
    lock = FileLock(path, mode=LOCK_MODE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    except OSError as exc:  # replaced between the check and the open
        raise LockRefused(f"{path}: cannot be opened as a lock ({exc.strerror or exc})") from None
    return lock


def write_owner(path: Path, text: str) -> None:
    """Say who holds a lock: a fresh file renamed onto ``path`` (a link there is replaced, not
    followed). Best effort: a file another user left in a sticky folder cannot be replaced,
    and then the owner goes unsaid."""
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, OWNER_MODE)
            os.write(fd, text.encode("utf-8", "replace"))
            os.close(fd)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_owner(path: Path) -> str | None:
    """The one line an owner file says, as printable text, or None when there is no regular
    file to read (a link, a FIFO and a folder are never opened for reading)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, OWNER_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    lines = data.decode("utf-8", "replace").splitlines() or [""]
    text = "".join(c if c.isprintable() else "?" for c in lines[0]).strip()
    return text or None


def remove_owner(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _not_a_lock_file(path: Path) -> str | None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or exc})"
    if stat.S_ISLNK(mode):
        return "is a symbolic link, not a lock file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None
