"""Files a user gives or gets: what every reader checks first, and the one way to write.

Reading: opening a FIFO or a character device blocks forever or reads without end, and a
directory fails with an error that names nothing, so readers ask here before they open
anything. The answer is a short problem text (or None); each reader turns it into its own
error type.

Writing: every file the harness writes (recordings, manifests, run records, profiles) appears
only when complete, so a crash or a full disk never leaves half a file where a whole one was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends,
    removed when it raises. The file gets the umask's mode (mkstemp's 0600 would hide it from
    the rest of the lab)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _default_mode())
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def unreadable_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a regular file this process can read, or None when it is."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a parent is not a folder)"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return f"is a {_kind(mode)}, not a regular file (refused: reading it could block)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def unwritable_file(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written (created or replaced) at ``path``, or None when it can.

    Nothing is created: the nearest existing parent must be a writable folder, and ``path``
    itself, if it exists, a regular file.
    """
    path = Path(path)
    if path.is_dir():
        return "is a directory; give a file name"
    if path.exists() and not path.is_file():
        return "exists and is not a regular file"
    if path.exists() and not os.access(path, os.W_OK):
        return "permission denied (the file is read-only)"
    return unwritable_dir(path.parent, must_exist=False)


def unwritable_dir(path: str | os.PathLike, must_exist: bool = False) -> str | None:
    """Why files cannot be written into folder ``path`` (created on demand unless
    ``must_exist``), or None when they can. Nothing is created."""
    path = Path(os.path.abspath(path))
    probe = path
    while not probe.exists():
        if must_exist:
            return "no such folder"
        if probe.parent == probe:
            return "no such folder"
        probe = probe.parent
    if not probe.is_dir():
        where = "" if probe == path else f" ({probe})"
        return f"is not a folder: a file is in the way{where}"
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == path else f" ({probe})"
        return f"permission denied: cannot write into the folder{where}"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
