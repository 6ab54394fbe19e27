"""Board health that outlives a session: which boards are bad, why, since which run.

A board that fails ``speck-hil doctor`` or that a session quarantines is marked bad here,
with the reason, the check or test that found it and the run; pools and ``--device`` then
skip it until ``speck-hil boards clear BOARD`` or a doctor run that passes returns it to
service (as LAVA keeps device health, and Zephyr's twister a quarantine list with reasons).

The store is the lab-wide lock folder (``HIL_LOCK_DIR``, ``hil.lab.pool``) that every session on
the host already shares: one small JSON file per board beside its lock, named like the lock
(``KIND-TYPE-SERIAL.health.json``), written atomically. Each file holds the board's current
health and a short log of what changed it. Beside it, ``KIND-TYPE-SERIAL.facts.toml`` holds
what the board's last doctor run measured (``hil.calibration.board_facts``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hil.backends.base import DeviceInfo
from hil.backends.spec import DeviceSpec, board_spec
from hil.files import write_atomic

SUFFIX = ".health.json"
FACTS_SUFFIX = ".facts.toml"
GOOD, BAD = "good", "bad"
#: How many changes of health each board's file remembers.
LOG_LENGTH = 20


@dataclass
class BoardHealth:
    """One board's health: ``health`` is good or bad; ``reason``, ``check`` (a doctor check
    or a test) and ``run`` say what last changed it, ``since`` when."""

    board: str
    health: str
    reason: str
    check: str
    run: str
    since: str
    last_check: str
    log: list[dict] = field(default_factory=list)

    @property
    def bad(self) -> bool:
        return self.health == BAD

    def skip_reason(self) -> str:
        """One line for a session that skips the board."""
        serial = self.board.rpartition("@")[2]
        return (
            f"board {serial} is marked bad since {self.since} by {self.check} ({self.run}): "
            f"{self.reason}; `speck-hil boards clear {serial}` returns it to service"
        )


def board_of(info: DeviceInfo, board_id: str) -> DeviceSpec:
    """The spec naming an opened board by its id (a serial, or ``usb:BUS:ADDRESS``), as
    pools and locks name it."""
    return board_spec(info.kind, info.device_type, board_id)


def run_name(what: str) -> str:
    """Which run changed a board's health: the program, its process and host, and when."""
    return f"{what}, pid {os.getpid()} on {socket.gethostname()} at {_now()}"


class HealthStore:
    """The health files in one lock folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, board: DeviceSpec) -> Path:
        """Named like the board's lock (``hil.lab.pool.BoardPool.lock_path``)."""
        name = (board.board_id or "").replace(":", "-")
        return self.folder / f"{board.kind}-{board.device_type}-{name}{SUFFIX}"

    def facts_path(self, board: DeviceSpec) -> Path:
        """Where ``speck-hil doctor`` keeps the board's facts (``hil.calibration.board_facts``)."""
        return self.path(board).with_name(self.path(board).name.replace(SUFFIX, FACTS_SUFFIX))

    def get(self, board: DeviceSpec) -> BoardHealth | None:
        return _load(self.path(board))

    def bad(self, boards: list[DeviceSpec]) -> dict[str, BoardHealth]:
        """Board id (its serial, or ``usb:BUS:ADDRESS``) -> health for each of ``boards``
        that is marked bad."""
        found = {board.board_id or "": self.get(board) for board in boards}
        return {serial: health for serial, health in found.items() if health and health.bad}

    def mark(self, board: DeviceSpec, health: str, reason: str, check: str, run: str) -> bool:
        """Record ``board``'s health; True when it changed (a good board that was never
        recorded counts as good)."""
        now = _now()
        old = self.get(board)
        changed = (old.health if old else GOOD) != health
        entry = BoardHealth(
            board=str(board),
            health=health,
            reason=reason,
            check=check,
            run=run,
            since=now if changed or old is None else old.since,
            last_check=now,
            log=(old.log if old else [])[-(LOG_LENGTH - 1) :],
        )
        entry.log.append({"date": now, "health": health, "reason": reason, "check": check})
        self._write(self.path(board), entry)
        return changed

    def all(self) -> list[BoardHealth]:
        if not self.folder.is_dir():
            return []
        found = (_load(path) for path in sorted(self.folder.glob(f"*{SUFFIX}")))
        return [health for health in found if health is not None]

    def find(self, name: str) -> list[BoardHealth]:
        """The recorded boards ``name`` names: SERIAL, TYPE@SERIAL or sim:TYPE@SERIAL."""
        return [
            health
            for health in self.all()
            if name in (health.board, health.board.removeprefix("sim:"))
            or name == health.board.rpartition("@")[2]
        ]

    def _write(self, path: Path, entry: BoardHealth) -> None:
        write_atomic(path, json.dumps(asdict(entry), indent=1))  # never half a file


def _load(path: Path) -> BoardHealth | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return BoardHealth(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a board health file ({exc})") from None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
