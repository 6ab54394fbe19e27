"""Board pools in a pytest session: ``--device 'TYPE:*'``, ``--device-each``, quarantine,
and labgrid places (``labgrid:PLACE``, ``labgrid:TAG=VALUE``; ``hil.lab.labgrid.pool``).

With a pool, each session (each pytest-xdist worker) leases one board by serial through
``hil.lab.pool`` when its first device test needs one, and holds it to the end. A session that
finds every board leased waits ``--board-wait`` seconds, saying for whom, then skips its
device tests with the reason. A board that breaks is quarantined: this session keeps it
locked (so nobody is handed it) and moves to a spare board if one is free; without a spare,
its remaining device tests skip with the cause, or under ``-n`` go to the workers that hold
a board (``hil.plugin.scheduler``).

``--device-each`` runs every device test once per board of the pool, parametrised by
serial (``test_x[SIM0001]``); tests are grouped by board, each board leased while its group
runs. Under pytest-xdist (``-n``), one worker runs all tests of a board.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hil.backends import DeviceUnavailable
from hil.backends.spec import DeviceSpec
from hil.calibration.board_facts import read_facts, use_facts
from hil.files import unwritable_dir
from hil.lab.device_session import DeviceSession
from hil.lab.health import BAD, HealthStore, run_name
from hil.lab.pool import (
    BoardPool,
    Lease,
    NoBoardFree,
    Pool,
    RunBoards,
    default_lock_dir,
    named_board,
    pool_members,
)
from hil.plugin.options import option, option_origin, path_option

if TYPE_CHECKING:
    from hil.plugin.session import HilSession

#: The parameter ``--device-each`` adds to every device test: the board's serial.
BOARD_PARAM = "hil_board"


def register(config: pytest.Config, hil: HilSession) -> PoolPlugin | None:
    """Add the pool plugin when ``--device`` names a pool, a labgrid place, or one board
    (leased as a pool of one, so two sessions never drive it); returns it."""
    each = option(config, "device_each")
    board = None
    if not hil.spec.pool and hil.spec.kind != "labgrid":
        if each:
            raise pytest.UsageError(
                f"--device-each needs a pool of boards, e.g. --device '{hil.spec.device_type}:*'"
                f" or 'sim:{hil.spec.device_type}:*'; --device {hil.spec} is one device"
            )
        board = named_board(hil.spec)
        if board is None:
            return None
    text = option(config, "board_wait")
    try:
        wait_s = float(text)
    except ValueError:
        wait_s = -1.0
    if not wait_s >= 0:
        where = option_origin(config, "board_wait")
        raise pytest.UsageError(f"{where} {text!r}: expected seconds, a number >= 0")
    lock_dir = path_option(config, "lock_dir") or default_lock_dir()
    problem = unwritable_dir(lock_dir)
    if problem and hil.spec.kind != "labgrid":
        raise pytest.UsageError(f"{option_origin(config, 'lock_dir')} {lock_dir}: {problem}")
    places = _labgrid_pool(hil.spec, each) if hil.spec.kind == "labgrid" else None
    if board is not None:
        places = BoardPool(str(hil.spec), [board], lock_dir)
    plugin = PoolPlugin(hil, wait_s, bool(each), lock_dir, places)
    config.pluginmanager.register(plugin, PoolPlugin.name)
    return plugin


def _labgrid_pool(spec: DeviceSpec, each: bool):
    if each:
        raise pytest.UsageError(
            f"--device-each runs on the boards of one host's pool ('TYPE:*'); --device {spec} "
            "names labgrid places, of which a session acquires one"
        )
    try:
        from hil.lab.labgrid.pool import LabgridPool
    except ImportError as exc:
        raise pytest.UsageError(
            f"--device {spec}: labgrid is not installed ({exc}); pip install 'speck-hil[labgrid]'"
        ) from None
    return LabgridPool(spec)


class PoolPlugin:
    """The leases of one session (one xdist worker), and the boards it quarantined."""

    name = "hil-pool"

    def __init__(self, hil: HilSession, wait_s: float, each: bool, lock_dir, pool=None):
        """``pool`` is what leases boards: by default a ``BoardPool`` of the attached boards
        ``--device`` names, built when first needed."""
        self.hil = hil
        self.config = hil.config
        self.spec: DeviceSpec = hil.spec
        self.wait_s = wait_s
        self.each = each
        self.lock_dir = lock_dir
        self._pool: Pool | None = pool
        self.lease: Lease | None = None
        self.leases: list[Lease] = []
        self.quarantined: dict[str, str] = {}
        self.notes: list[str] = []
        #: Boards marked bad by earlier sessions or doctor (``hil.lab.health``), skipped;
        #: a host's own boards only (labgrid places are the coordinator's).
        self.health = HealthStore(lock_dir) if self.spec.kind != "labgrid" else None
        self.marked_bad: dict[str, str] = {}
        self.health_check = bool(option(self.config, "hil_health_check"))
        #: Under ``-n``, which board each worker of the run holds (``share_boards``).
        self.run_boards: RunBoards | None = None
        self.worker = ""

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = BoardPool(str(self.spec), pool_members(self.spec), self.lock_dir)
        return self._pool

    # -- --device-each ----------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if not self.each or "speck" not in metafunc.fixturenames or not self.pool.boards:
            return
        if BOARD_PARAM not in metafunc.fixturenames:
            metafunc.fixturenames.append(BOARD_PARAM)
        metafunc.parametrize(BOARD_PARAM, self.pool.serials, ids=self.pool.serials)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Each board's tests together, so a board is leased once."""
        if self.each:
            order = {serial: i for i, serial in enumerate(self.pool.serials)}
            items.sort(key=lambda item: order.get(_board_of(item), -1))

    # -- leasing ------------------------------------------------------------------------------

    def share_boards(self, run: RunBoards, worker: str) -> None:
        """Tell the other workers of the run which board this one holds, from now on."""
        self.run_boards, self.worker = run, worker

    def boards_elsewhere(self) -> dict[str, str]:
        """Worker -> serial for the other workers of the run that hold a board."""
        return self.run_boards.held(but=self.worker) if self.run_boards is not None else {}

    def _holding(self, lease: Lease | None) -> None:
        self.lease = lease
        if self.run_boards is not None:
            self.run_boards.hold(self.worker, lease.serial if lease is not None else None)

    def _boards_with_others(self) -> str | None:
        """Why waiting is pointless: another worker of this run holds a board, so this one's
        device tests can go there. (Waiting instead can deadlock two runs that each hold
        some boards and wait for the other's, since a run starts once every worker leased.)"""
        held = self.boards_elsewhere()
        if not held:
            return None
        holders = ", ".join(f"{worker} {serial}" for worker, serial in held.items())
        return (
            f"{self.pool.busy(self.quarantined)}; other workers of this run hold a board "
            f"({holders}): this worker's device tests go to them"
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_finish(self, session: pytest.Session):
        needed = [i for i in session.items if "speck" in getattr(i, "fixturenames", ())]
        if self.each and hasattr(self.config, "workerinput"):
            self.hil.open_after_collection = False  # which boards' tests come here is not known
        elif not self.config.option.collectonly and (needed or self.hil.require):
            self._lease(_board_of(needed[0]) if self.each and needed else None)
        return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        board = _board_of(item)
        if board is not None and board != self._current():
            self._lease(board)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        result = yield
        broken = self.hil.devices.broken
        current = self._current()
        if broken and current and current not in self.quarantined:
            self._quarantine(current, broken, item.nodeid)
        return result

    def _current(self) -> str | None:
        return self.lease.serial if self.lease is not None else None

    def _lease(self, serial: str | None) -> None:
        """Lease ``serial`` (``--device-each``) or any free board, and open it from now on;
        the board leased before is released unless it is quarantined."""
        previous = self.lease
        if previous is not None:
            self._retire()
            if previous.serial not in self.quarantined:
                previous.release()
        pool = self.pool if serial is None else self._one_board(serial)
        # a labgrid place has no run mates: only a BoardPool is asked when to give up
        mates = {"give_up": self._boards_with_others} if self.run_boards is not None else {}
        try:
            self._skip_bad_boards(pool)
            exclude = {**self.quarantined, **self.marked_bad}
            lease = pool.lease(self.wait_s, exclude=exclude, on_wait=self._say, **mates)
        except NoBoardFree as exc:
            self._holding(None)
            self._use(DeviceSession(str(self.spec), _refuse(str(self.spec), str(exc))))
            self.notes.append(f"speck-hil pool: no board: {exc}")
            return
        self._holding(lease)
        self.leases.append(lease)
        waited = f" after waiting {lease.waited_s:g} s" if lease.waited_s else ""
        where = f" (labgrid place {lease.place})" if lease.place else ""
        self.notes.append(f"speck-hil pool {self.spec}: leased {lease.serial}{where}{waited}")
        self.notes += [f"speck-hil pool {self.spec}: {note}" for note in pool.notes()]
        self._use(DeviceSession(str(lease.board), self._opener(lease.board)))
        self._check_health()

    def _one_board(self, serial: str) -> BoardPool:
        board = next(b for b in self.pool.boards if b.board_id == serial)
        return BoardPool(str(self.spec), [board], self.lock_dir)

    def _opener(self, board: DeviceSpec):
        opener, facts = self.hil.opener(str(board)), self._facts(board)

        def open_board():
            device = opener()
            note = use_facts(device, facts) if facts is not None else None
            if note and not any(note in line for line in self.notes):
                self.notes.append(f"speck-hil pool: board {board.board_id}: {note}")
            return device

        return open_board

    def _facts(self, board: DeviceSpec):
        """What doctor last measured on ``board`` (its facts in the lock folder), if any."""
        path = self.health.facts_path(board) if self.health is not None else None
        if path is None or not path.is_file():
            return None
        try:
            return read_facts(path)
        except ValueError as exc:
            self.notes.append(f"speck-hil pool: board facts not used: {exc}")
            return None

    def _use(self, devices: DeviceSession) -> None:
        self.hil.devices = devices
        self._record()

    def _retire(self) -> None:
        """Close the current board, keeping its device line and recovery notes."""
        devices = self.hil.devices
        devices.close()
        if devices.info is not None:
            self.notes.append(
                f"speck-hil board: {devices.info} (serial {devices.info.serial or 'none'})"
            )
        self.notes += devices.notes

    def _skip_bad_boards(self, pool: Pool) -> None:
        """Leave out the boards marked bad, each said once; NoBoardFree with their reasons
        when no other board is left."""
        if self.health is None:
            return
        try:
            bad = self.health.bad(pool.boards)
        except ValueError as exc:  # a health file that is not one
            raise pytest.UsageError(f"speck-hil pool: {exc}") from None
        for serial, health in bad.items():
            if serial not in self.marked_bad:
                self.marked_bad[serial] = health.reason
                self._say(f"skipped: {health.skip_reason()}")
        if bad and all(b.board_id in self.quarantined or b.board_id in bad for b in pool.boards):
            raise NoBoardFree("; ".join(health.skip_reason() for health in bad.values()))

    def _check_health(self) -> None:
        """``--hil-health-check``: doctor's quick checks on the board just leased; a board
        that fails is marked bad and quarantined (the session moves to a spare)."""
        if not self.health_check or self.lease is None:
            return
        from hil.calibration.doctor import health_check

        serial = self.lease.serial
        try:
            problem = health_check(self.hil.devices.open())
        except Exception as exc:  # it cannot be opened, or doctor cannot test it
            problem = f"doctor's quick checks could not run: {exc}"
        if problem is None:
            self.notes.append(f"speck-hil pool: board {serial} passed doctor's quick checks")
            return
        self._say(f"board {serial} failed doctor's quick checks: {problem}")
        self.hil.devices.broken = f"health check: {problem}"
        self._quarantine(serial, f"health check: {problem}", "--hil-health-check")

    def _quarantine(self, serial: str, cause: str, found_by: str = "") -> None:
        self.quarantined[serial] = cause
        if self.health is not None:
            found_by = found_by or "a device test"
            self.health.mark(self.lease.board, BAD, cause, found_by, run_name("pytest session"))
        note = f"speck-hil pool: board {serial} quarantined for the rest of the session: {cause}"
        if self.each:
            self.notes.append(f"{note}; its remaining tests skip")
            self._record()
            return
        try:
            unfit = {**self.quarantined, **self.marked_bad}
            spare = self.pool.try_lease(exclude=unfit)
            busy = self.pool.busy(unfit)
        except NoBoardFree as exc:  # a labgrid coordinator that stopped answering
            spare, busy = None, str(exc)
        if spare is None:
            self._holding(None)
            elsewhere = self.boards_elsewhere()
            where = (
                "go to the workers holding " + ", ".join(sorted(elsewhere.values()))
                if elsewhere
                else "skip"
            )
            self.notes.append(
                f"{note}; no spare board free ({busy}), so this "
                f"session's remaining device tests {where}"
            )
            self._record()
            return
        self.notes.append(f"{note}; its remaining tests run on {spare.serial}")
        self._retire()
        self._holding(spare)
        self.leases.append(spare)
        self._use(DeviceSession(str(spare.board), self._opener(spare.board)))
        self._check_health()

    def _say(self, line: str) -> None:
        line = f"speck-hil pool: {line}"
        self.notes.append(line)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)

    def _record(self) -> None:
        self.hil.record.session["pool"] = {
            "spec": str(self.spec),
            "boards": self.pool.serials,
            "lock_dir": str(self.lock_dir),
            "leases": [_lease_entry(lease) for lease in self.leases],
            "quarantined": dict(self.quarantined),
            "marked_bad": dict(self.marked_bad),
        }
        self.hil.record.write()

    # -- reporting ----------------------------------------------------------------------------

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        if self._pool is None or self.spec.kind == "labgrid":
            return []
        if not self.spec.pool:
            return [f"speck-hil board {self.pool.serials[0]}: its lock in {self.lock_dir}"]
        boards = ", ".join(self.pool.serials) or "none attached"
        return [f"speck-hil pool {self.spec}: boards {boards}; locks in {self.lock_dir}"]

    def pytest_hil_summary_lines(self, config: pytest.Config) -> list[str]:
        return list(self.notes)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Release every lease once the plugin has closed the device."""
        self.hil.devices.close()
        if self.run_boards is not None:
            self.run_boards.hold(self.worker, None)
        for lease in self.leases:
            lease.release()


def _lease_entry(lease: Lease) -> dict:
    entry = {"serial": lease.serial, "waited_s": lease.waited_s}
    return {**entry, "place": lease.place} if lease.place else entry


def _board_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(BOARD_PARAM) if callspec is not None else None


def _refuse(spec: str, reason: str):
    def opener():
        raise DeviceUnavailable(spec, f"no board free: {reason}")

    return opener
