"""Leasing boards of a pool: one file lock per board, shared by every process on the host.

A pool (``--device 'speck2fmodule:*'``) names every attached board of a type. A session
leases one board by serial and holds its lock until it releases it or its process ends (the
operating system drops the lock of a process that dies), so two sessions on one host never
drive one board, whatever crashed. The locks live in one lab-wide folder, ``HIL_LOCK_DIR``
(default: ``speck-hil-locks`` in the system's temporary folder); beside each lock an owner
file says who holds it, so a session that has to wait can say for whom.

A board named on its own (``--device speck2fmodule``, ``speck2fmodule@SERIAL``) is leased
through the same lock, as a pool of one (``named_board``). Under pytest-xdist, the workers of
one run also share a small table of which of them holds a board (``RunBoards``), so a worker
without one knows whether its device tests can go to another.

No pytest here: ``hil.plugin.pool`` maps leases onto sessions and workers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from filelock import FileLock

from hil.backends import DeviceError, detect_samna, list_devices, parse_device_spec
from hil.backends.spec import DeviceSpec, board_spec
from hil.lab.lockfiles import (
    LockRefused,
    make_lock_folder,
    read_owner,
    remove_owner,
    try_lock,
    write_owner,
)

LOCK_DIR_ENV = "HIL_LOCK_DIR"
#: How often a waiting session tries the locks again.
POLL_S = 0.2


class NoBoardFree(Exception):
    """Every board of the pool stayed leased (or quarantined) for as long as we could wait."""


def default_lock_dir() -> Path:
    """``HIL_LOCK_DIR``, else one folder in the system's temporary folder for the host."""
    configured = os.environ.get(LOCK_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "speck-hil-locks"


def pool_members(spec: DeviceSpec) -> list[DeviceSpec]:
    """One spec per attached board the pool names (``TYPE@SERIAL``, or ``TYPE@usb:BUS:ADDRESS``
    for a board without a serial), in listing order; devices that are not Speck boards are
    skipped."""
    boards = []
    for listed in list_devices():
        if not listed.spec:
            continue
        board = parse_device_spec(listed.spec)
        if board.board_id and (board.kind, board.device_type) == (spec.kind, spec.device_type):
            boards.append(board)
    return boards


def named_board(spec: DeviceSpec) -> DeviceSpec | None:
    """The one board a spec names (``TYPE``, ``TYPE:INDEX``, ``TYPE@SERIAL``), by serial, as
    opening it would pick it; None for what is not one board (``sim``, ``sim:TYPE``: each
    process has emulated boards of its own; pools, software) or when the board is not
    attached (opening it says why). An emulated board named by index or serial is locked like
    a real one: that is how tests model a lab."""
    if spec.pool or spec.kind not in ("real", "emulated"):
        return None
    if spec.kind == "emulated" and spec.index is None and spec.board_id is None:
        return None
    if spec.board_id is not None:
        return spec
    if spec.kind == "emulated":
        import hil.emulator.samna as samna
    elif detect_samna().kind == "real":
        import samna
    else:
        return None
    from hil.backends.samna_boards import board_id, select_device_info  # as open_device picks

    try:
        info = select_device_info(samna, spec)
    except DeviceError:
        return None
    return board_spec(spec.kind, spec.device_type, board_id(info))


@dataclass
class Lease:
    """One board held by this process until ``release`` (a file lock here, a labgrid place
    in ``hil.lab.labgrid.pool``)."""

    board: DeviceSpec
    waited_s: float
    _release: Callable[[], None]
    released: bool = False
    place: str = ""  # the labgrid place holding the board, when leased through labgrid

    @property
    def serial(self) -> str:
        """The board's id: its serial, or ``usb:BUS:ADDRESS`` for a board without one."""
        return self.board.board_id or ""

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._release()


class Pool:
    """What leases boards: the waiting is shared, how a board is taken is the subclass's
    (a file lock here, a labgrid place in ``hil.lab.labgrid.pool``)."""

    name: str
    boards: list[DeviceSpec]

    @property
    def serials(self) -> list[str]:
        """The boards' ids (a serial, or ``usb:BUS:ADDRESS``)."""
        return [board.board_id or "" for board in self.boards]

    def try_lease(self, exclude: Iterable[str] = ()) -> Lease | None:
        """A free board now, or None; boards whose serial is in ``exclude`` are never taken."""
        raise NotImplementedError

    def busy(self, exclude: Iterable[str] = ()) -> str:
        """Which boards are taken, and by whom."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """What a session should report about the pool besides its leases."""
        return []

    def lease(
        self,
        wait_s: float,
        exclude: Iterable[str] = (),
        on_wait: Callable[[str], None] | None = None,
        give_up: Callable[[], str | None] | None = None,
    ) -> Lease:
        """A free board, waiting up to ``wait_s`` for one; ``on_wait`` gets one line saying
        who holds the boards before the wait starts. Raises ``NoBoardFree`` naming them, or
        with the reason ``give_up`` returns while we wait (waiting is pointless)."""
        exclude = set(exclude)
        if not [b for b in self.boards if b.board_id not in exclude]:
            raise NoBoardFree(self._nothing_to_lease(exclude))
        lease = self.try_lease(exclude)
        if lease is not None:
            return lease
        pointless = give_up or (lambda: None)
        reason = pointless()
        if reason:
            raise NoBoardFree(reason)
        if on_wait is not None and wait_s > 0:
            on_wait(f"{self.busy(exclude)}; waiting up to {wait_s:g} s")
        start = time.monotonic()
        while lease is None and time.monotonic() - start < wait_s:
            time.sleep(min(POLL_S, max(0.0, wait_s - (time.monotonic() - start))))
            lease = self.try_lease(exclude)
            reason = pointless() if lease is None else None
            if reason:
                raise NoBoardFree(reason)
        if lease is None:
            raise NoBoardFree(f"{self.busy(exclude)}; waited {wait_s:g} s")
        lease.waited_s = round(time.monotonic() - start, 3)
        return lease

    def _nothing_to_lease(self, exclude: set[str]) -> str:
        raise NotImplementedError


class BoardPool(Pool):
    """The boards of one pool and their locks in ``lock_dir``."""

    def __init__(self, name: str, boards: list[DeviceSpec], lock_dir: Path):
        self.name = name
        self.boards = boards
        self.lock_dir = lock_dir

    def lock_path(self, board: DeviceSpec) -> Path:
        """The board's lock; its kind is in the name, so an emulated board never blocks a
        real one that happens to have the same serial. A board without a serial is locked by
        its USB bus and address (``usb-1-4``), so two such boards never share a lock."""
        name = (board.board_id or "").replace(":", "-")
        return self.lock_dir / f"{board.kind}-{board.device_type}-{name}.lock"

    def try_lease(self, exclude: Iterable[str] = ()) -> Lease | None:
        make_lock_folder(self.lock_dir)
        skip = set(exclude)
        candidates = [board for board in self.boards if board.board_id not in skip]
        refused = []
        for board in candidates:
            path = self.lock_path(board)
            try:
                lock = try_lock(path)
            except LockRefused as exc:
                refused.append(str(exc))
                continue
            if lock is None:
                continue
            owner = path.with_suffix(".owner")
            write_owner(owner, _whoami())
            return Lease(board, 0.0, partial(_unlock, lock, owner))
        if refused and len(refused) == len(candidates):
            raise NoBoardFree("; ".join(refused))
        return None

    def busy(self, exclude: Iterable[str] = ()) -> str:
        exclude = set(exclude)
        held = [f"{board.board_id} {self._holder(board, exclude)}" for board in self.boards]
        if len(held) == 1:
            return f"board {held[0]} ({self.name})"
        return f"every board of {self.name} is taken ({'; '.join(held)})"

    def _holder(self, board: DeviceSpec, exclude: set[str]) -> str:
        if board.board_id in exclude:
            return "quarantined"
        owner = read_owner(self.lock_path(board).with_suffix(".owner"))
        return f"leased by {owner}" if owner else "leased by another process"

    def _nothing_to_lease(self, exclude: set[str]) -> str:
        if not self.boards:
            return f"no board of {self.name} is attached"
        return f"every board of {self.name} is quarantined ({', '.join(sorted(exclude))})"


class RunBoards:
    """Which board each pytest-xdist worker of one run holds: one small file per worker in a
    folder of the run, written by the worker, read by the others (a worker without a board
    hands its device tests back only while another holds one)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def hold(self, worker: str, serial: str | None) -> None:
        """``worker`` holds ``serial`` now (None: no board)."""
        path = self.folder / worker
        if serial is None:
            path.unlink(missing_ok=True)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        partial_path = path.with_suffix(".new")
        partial_path.write_text(serial, encoding="utf-8")
        partial_path.replace(path)  # readers never see half a serial

    def held(self, but: str = "") -> dict[str, str]:
        """Worker -> serial for every worker that holds a board, except ``but``."""
        held = {}
        with contextlib.suppress(FileNotFoundError):
            for path in sorted(self.folder.iterdir()):
                if path.name != but and not path.suffix:
                    with contextlib.suppress(FileNotFoundError):  # released meanwhile
                        held[path.name] = path.read_text(encoding="utf-8")
        return held

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _unlock(lock: FileLock, owner: Path) -> None:
    remove_owner(owner)
    lock.release()


def _whoami() -> str:
    since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    who = f"pid {os.getpid()}" + (f" (xdist worker {worker})" if worker else "")
    return f"{who} on {socket.gethostname()} since {since}"
