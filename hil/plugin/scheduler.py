"""Which pytest-xdist worker runs which test, when ``--device`` names a pool of boards.

A board that breaks costs no test: under ``-n`` with xdist's ``load`` or ``worksteal``
distribution, a worker without a board (its board broke and no spare was free, or no board
was free for it) hands each device test it is given back, once, while another worker of the
run holds a board, and the controller gives it to a worker that has one. The worker tears
the test down without running or reporting it; the controller knows a handed-back test by
its completing with no report. Which worker holds a board, workers and controller read from
one table, ``hil.lab.pool.RunBoards`` in the lock folder: a worker writes it when it leases a
board and when it loses one, before it reports anything more.

The worker without a board gets no more tests but lives to the end of the run, so the lock of
a quarantined board stays held; once every other test is placed it is shut down first, so
the tests it still holds go to the others before they stop. When no worker has a board, the
device tests run where they are and skip with the cause.

``--device-each`` keeps xdist's scope scheduling, a board's tests as one scope
(``BoardScheduling``). Other distribution modes are xdist's own: there a worker without a
board skips its device tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.runner import runtestprotocol
from xdist.scheduler import LoadScopeScheduling, WorkStealingScheduling
from xdist.scheduler.worksteal import MIN_PENDING

from hil.lab.pool import RunBoards

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

    from hil.plugin.pool import PoolPlugin

#: ``workerinput`` key: the folder of the run's ``RunBoards``; present when tests move.
RUN_BOARDS = "speck_hil_run_boards"
#: The distribution modes whose scheduler we replace.
MOVING_DISTS = ("load", "worksteal")


def register(config: pytest.Config, pool: PoolPlugin) -> None:
    """The controller's scheduler under ``-n``; on a worker, handing tests back."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if RUN_BOARDS in workerinput:
            pool.share_boards(RunBoards(Path(workerinput[RUN_BOARDS])), workerinput["workerid"])
            config.pluginmanager.register(HandingBack(pool), HandingBack.name)
        return
    dist = getattr(config.option, "dist", "no")
    if pool.each and dist == "load":
        config.pluginmanager.register(EachBoardScheduler(pool), "hil-each-board")
    elif not pool.each and pool.spec.kind != "labgrid" and dist in MOVING_DISTS:
        config.pluginmanager.register(MovingScheduler(pool), MovingScheduler.name)


class HandingBack:
    """On a worker: device tests it cannot run go back to the controller, once each."""

    name = "hil-handing-back"

    def __init__(self, pool: PoolPlugin):
        self.pool = pool
        self.handed_back: set[str] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        if (
            self.pool.lease is not None
            or "speck" not in getattr(item, "fixturenames", ())
            or item.nodeid in self.handed_back
            or not self.pool.boards_elsewhere()
        ):
            return None
        self.handed_back.add(item.nodeid)
        # Set up and torn down towards the next test, as if skipped, with nothing reported.
        reports = runtestprotocol(item, log=False, nextitem=nextitem)
        if any(report.failed for report in reports):  # a fixture of its scope failed: say so here
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            for report in reports:
                item.ihook.pytest_runtest_logreport(report=report)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True


class MovingScheduler:
    """On the controller: makes the scheduler and tells it what the workers report."""

    name = "hil-moving-scheduler"

    def __init__(self, pool: PoolPlugin):
        self.pool = pool
        self.scheduling: PoolScheduling | None = None
        self.runs: list[RunBoards] = []
        self.moved: dict[str, int] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: WorkerController) -> None:
        run = RunBoards(self.pool.lock_dir / f"run-{node.workerinput['testrunuid']}")
        node.workerinput[RUN_BOARDS] = str(run.folder)
        if run.folder not in [known.folder for known in self.runs]:
            self.runs.append(run)

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log) -> PoolScheduling:
        self.scheduling = PoolScheduling(config, log, self._with_boards, self._moved)
        return self.scheduling

    def _with_boards(self) -> set[str]:
        return {worker for run in self.runs for worker in run.held()}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)
        if self.scheduling is not None and node is not None:
            self.scheduling.reported(node, report.nodeid)

    def _moved(self, nodeid: str, worker: str) -> None:
        self.moved[worker] = self.moved.get(worker, 0) + 1
        moves = self.pool.hil.record.session.setdefault("moved_tests", [])
        moves.append({"nodeid": nodeid, "from": worker})

    def pytest_hil_summary_lines(self, config: pytest.Config) -> list[str]:
        return [
            f"speck-hil pool: [{worker}] had no board; {count} device test"
            f"{'s' if count != 1 else ''} it was given ran on other workers"
            for worker, count in sorted(self.moved.items())
        ]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for run in self.runs:
            run.remove()


class PoolScheduling(WorkStealingScheduling):
    """xdist's work stealing, with no new tests for workers without a board, and their
    handed-back tests given to the others."""

    def __init__(
        self,
        config: pytest.Config,
        log,
        with_boards: Callable[[], set[str]],
        on_moved: Callable[[str, str], None],
    ) -> None:
        """``with_boards`` says which workers (by id) hold a board now; ``on_moved`` hears of
        each test handed back (its node id, the worker's id)."""
        super().__init__(config, log)
        self._with_boards = with_boards
        self._handed_back: set[WorkerController] = set()
        self._reported: dict[WorkerController, set[str]] = {}
        self._on_moved = on_moved

    @property
    def boardless(self) -> set[WorkerController]:
        """The workers without a board: by the run's table, or as they showed by handing a
        test back."""
        with_boards = self._with_boards()
        without = {node for node in self.node2pending if node.gateway.id not in with_boards}
        return without | self._handed_back

    def reported(self, node: WorkerController, nodeid: str) -> None:
        self._reported.setdefault(node, set()).add(nodeid)

    def mark_test_complete(
        self, node: WorkerController, item_index: int, duration: float | None = None
    ) -> None:
        assert self.collection is not None
        nodeid = self.collection[item_index]
        seen = self._reported.get(node, set())
        if nodeid in seen:
            seen.discard(nodeid)
        else:  # completed with no report: handed back
            self._handed_back.add(node)
            self.pending.insert(0, item_index)
            self._on_moved(nodeid, node.gateway.id)
        super().mark_test_complete(node, item_index, duration)

    @property
    def tests_finished(self) -> bool:
        return super().tests_finished and not self._holding(self.boardless)

    def _holding(self, boardless: set[WorkerController]) -> list[WorkerController]:
        """Workers without a board that still hold tests they may hand back."""
        return [node for node in boardless if self.node2pending.get(node)]

    def check_schedule(self) -> None:
        boardless = self.boardless
        up = [node for node in self.node2pending if not node.shutting_down]
        receivers = [node for node in up if node not in boardless] or up
        idle = [node for node in receivers if len(self.node2pending[node]) < MIN_PENDING]
        if not idle:
            return
        if self.pending:
            for i, node in enumerate(idle):
                self._send_tests(node, len(self.pending) // (len(idle) - i))
            idle = [node for node in idle if len(self.node2pending[node]) < MIN_PENDING]
            if not idle:
                return
        if self.steal_requested_from_node is not None:
            return
        victim = max(up, key=lambda node: len(self.node2pending[node]), default=None)
        queued = self.node2pending[victim] if victim is not None else []
        steal = min(len(queued) // 2, max(0, len(queued) - MIN_PENDING))
        if steal:
            victim.send_steal(queued[-steal:])
            self.steal_requested_from_node = victim
            return
        holding = self._holding(boardless)
        if holding and any(node not in boardless for node in receivers):
            for node in holding:  # what they hold goes to the others before those stop
                if not node.shutting_down:
                    node.shutdown()
            return
        for node in idle:
            node.shutdown()


class EachBoardScheduler:
    """``--device-each`` under ``-n`` (xdist's ``load``): one worker runs all tests of a board."""

    def __init__(self, pool: PoolPlugin):
        self.pool = pool

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        serials = self.pool.pool.serials

        class BoardScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                params = nodeid.rpartition("[")[2].rstrip("]").split("-") if "[" in nodeid else []
                return next((p for p in params if p in serials), nodeid)

        return BoardScheduling(config, log)
