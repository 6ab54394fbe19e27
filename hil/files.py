"""Files a user gives or gets: what every reader checks first, and the one way to write.

Reading: opening a FIFO or a character device blocks forever or reads without end, and a
directory fails with an error that names nothing, so readers ask here before they open
anything. The answer is a short problem text (or None); each reader turns it into its own
error type.

Writing: every file the harness writes (recordings, manifests, run records, profiles) appears
only when complete, so a crash or a full disk never leaves half a file where a whole one was.
"""

from __future__ import annotations

import errno
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

    Checked by trying, not by ``os.access`` (which says yes to root on a read-only filesystem
    or under /proc): a new file is created at ``path`` and removed, an existing one opened for
    writing without truncating it; missing folders are tried in the nearest existing one.
    Nothing is left behind.
    """
    path = Path(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return _why(exc)
    if mode is not None and stat.S_ISDIR(mode):
        return "is a directory; give a file name"
    if mode is not None and not stat.S_ISREG(mode):
        return "exists and is not a regular file"
    if mode is None and not path.parent.is_dir():
        return unwritable_dir(path.parent) or _too_long(path.name, path.parent)
    flags = (
        os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_CREAT | os.O_EXCL if mode is None else 0)
    )
    try:
        os.close(os.open(path, flags, 0o600))
    except OSError as exc:
        if isinstance(exc, PermissionError) and mode is not None:
            return "permission denied (the file is read-only)"
        return _why(exc)
    if mode is None:
        path.unlink(missing_ok=True)
    return None


def unwritable_dir(path: str | os.PathLike, must_exist: bool = False) -> str | None:
    """Why files cannot be written into folder ``path`` (created on demand unless
    ``must_exist``), or None when they can. Checked by trying: a file is created in the
    nearest existing folder and removed; the missing folders' names are checked against the
    filesystem's limit. Nothing is left behind."""
    path = Path(os.path.abspath(path))
    probe = path
    while not probe.exists():
        if must_exist or probe.parent == probe:
            return "no such folder"
        probe = probe.parent
    where = "" if probe == path else f" ({probe})"
    if not probe.is_dir():
        return f"is not a folder: a file is in the way{where}"
    for name in path.relative_to(probe).parts:
        problem = _too_long(name, probe)
        if problem:
            return problem
    try:
        fd, tmp = tempfile.mkstemp(prefix=".speck-hil-probe.", dir=probe)
    except PermissionError:
        return f"permission denied: cannot write into the folder{where}"
    except OSError as exc:
        return f"cannot write into the folder{where}: {_why(exc)}"
    os.close(fd)
    os.unlink(tmp)
    return None


def _too_long(name: str, folder: Path) -> str | None:
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(name)) > limit:
        return f"the name {name[:40]}... is longer than the {limit} bytes a file name may have"
    return None


def _why(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only filesystem"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, NotADirectoryError):
        return "is not a folder: a file is in the way"
    return (exc.strerror or str(exc)).lower()


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
