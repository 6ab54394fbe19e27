"""The controller's scheduler for pools under pytest-xdist (``hil.plugin.scheduler``), driven
by fake workers: which worker gets which test, what a handed-back test becomes, who stops
first. The end-to-end runs with real workers are in ``test_plugin_pool``."""

from types import SimpleNamespace

import pytest

from hil.lab.pool import RunBoards
from hil.plugin.scheduler import PoolScheduling

TESTS = [f"test_x.py::test_{i}" for i in range(8)]


class FakeWorker:
    """What the scheduler sends a worker, and its queue as the controller sees it."""

    def __init__(self, name: str):
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.steals: list[list[int]] = []
        self.shutting_down = False

    def send_runtest_some(self, indices):
        self.sent += list(indices)

    def send_steal(self, indices):
        self.steals.append(list(indices))

    def shutdown(self):
        self.shutting_down = True

    def __repr__(self):
        return self.gateway.id


@pytest.fixture
def moved():
    return []


def scheduling(
    workers: int, moved: list, with_boards: set[str] | None = None
) -> tuple[PoolScheduling, list[FakeWorker]]:
    """``with_boards``: the workers the run's table shows holding a board (default: all)."""
    config = SimpleNamespace(getvalue=lambda name: [f"{workers}*popen"])
    table = {f"gw{i}" for i in range(workers)} if with_boards is None else with_boards
    sched = PoolScheduling(
        config, None, lambda: table, lambda nodeid, worker: moved.append((nodeid, worker))
    )
    nodes = [FakeWorker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)
    for node in nodes:
        sched.add_node_collection(node, TESTS)
    sched.schedule()
    return sched, nodes


def run(sched: PoolScheduling, node: FakeWorker, index: int):
    """``node`` ran test ``index`` and reported it."""
    for _ in ("setup", "call", "teardown"):
        sched.reported(node, TESTS[index])
    sched.mark_test_complete(node, index)


def simulate(sched, nodes, hands_back=lambda node, index: False, slow=()):
    """Play the workers as xdist's do until the run ends: a worker runs its first test once
    it holds a second or was told to stop; steals succeed for tests it has not taken yet;
    a ``slow`` worker acts only when no other can. Returns test index -> the workers that
    ran it, in order."""
    ran: dict[int, list[str]] = {}
    for _ in range(1000):
        acted = False
        for node in sorted(nodes, key=lambda node: node.gateway.id in slow):
            if acted and node.gateway.id in slow:
                continue
            pending = sched.node2pending.get(node)
            if node.steals:
                asked = node.steals.pop()
                given = asked if set(asked) <= set(pending[2:]) else []
                sched.remove_pending_tests_from_node(node, given)
                acted = True
            elif pending and (len(pending) >= 2 or node.shutting_down):
                index = pending[0]
                if hands_back(node, index):
                    sched.mark_test_complete(node, index)
                else:
                    ran.setdefault(index, []).append(node.gateway.id)
                    run(sched, node, index)
                acted = True
            elif pending == [] and node.shutting_down:
                sched.remove_node(node)
                acted = True
        if not acted:
            return ran
    raise AssertionError("the run never ended")


def test_tests_are_shared_out_and_the_run_ends_when_all_ran(moved):
    sched, nodes = scheduling(2, moved)
    assert sorted(nodes[0].sent + nodes[1].sent) == list(range(8))
    ran = simulate(sched, nodes)
    assert sorted(ran) == list(range(8)) and all(len(w) == 1 for w in ran.values())
    assert sched.tests_finished and moved == []


def test_a_test_handed_back_runs_once_on_a_worker_with_a_board(moved):
    sched, (a, b) = scheduling(2, moved)
    ran = simulate(sched, [a, b], hands_back=lambda node, index: node is a)
    assert sched.tests_finished
    assert ran == {index: ["gw1"] for index in range(8)}
    assert sorted(nodeid for nodeid, _ in moved) == sorted(TESTS[i] for i in a.sent)
    assert {worker for _, worker in moved} == {"gw0"}


def test_a_worker_without_a_board_gets_no_more_tests(moved):
    sched, (a, b) = scheduling(2, moved)
    given = list(a.sent)
    sched.mark_test_complete(a, given[0])  # completed with no report: handed back
    assert a in sched.boardless
    simulate(sched, [a, b], hands_back=lambda node, index: node is a)
    assert a.sent == given


def test_a_worker_the_run_table_shows_without_a_board_gets_no_new_tests(moved):
    sched, (a, b) = scheduling(2, moved, with_boards={"gw1"})
    given = list(a.sent)
    assert sched.boardless == {a}
    ran = simulate(sched, [a, b])
    assert a.sent == given  # it stole nothing from b
    assert sorted(ran) == list(range(8))


def test_workers_with_a_board_stay_until_the_others_handed_back_what_they_hold(moved):
    """The workers without a board are slow to start: the one with a board, idle meanwhile,
    is not stopped, or the tests they hand back would find nobody to run them."""
    sched, nodes = scheduling(3, moved, with_boards={"gw0"})
    handed: set[tuple[str, int]] = set()

    def hands_back(node, index):
        """As a worker decides: once per test, while another worker holds a board."""
        if node is nodes[0] or (node, index) in handed or nodes[0] not in sched.node2pending:
            return False
        handed.add((node, index))
        return True

    ran = simulate(sched, nodes, hands_back, slow=("gw1", "gw2"))
    assert ran == {index: ["gw0"] for index in range(8)}


def test_a_worker_without_a_board_stops_first_so_its_last_test_can_move(moved):
    sched, (a, b) = scheduling(2, moved)
    order = []
    real_shutdown = FakeWorker.shutdown

    def shutdown(node):
        order.append(node.gateway.id)
        real_shutdown(node)

    a.shutdown = lambda: shutdown(a)
    b.shutdown = lambda: shutdown(b)
    ran = simulate(sched, [a, b], hands_back=lambda node, index: node is a)
    assert order == ["gw0", "gw1"]
    assert a.sent[-1] in ran and ran[a.sent[-1]] == ["gw1"]


def test_when_no_worker_has_a_board_each_hands_a_test_back_once_then_runs_it(moved):
    """The worker decides (it hands back only while another holds a board); here each
    hands back everything once, as if it had not seen that the others broke too."""
    sched, nodes = scheduling(2, moved)
    handed: set[tuple[str, int]] = set()

    def once(node, index):
        first = (node.gateway.id, index) not in handed
        handed.add((node.gateway.id, index))
        return first

    ran = simulate(sched, nodes, hands_back=once)
    assert sched.tests_finished
    assert sorted(ran) == list(range(8)) and all(len(w) == 1 for w in ran.values())


def test_the_run_table_says_which_worker_holds_which_board(tmp_path):
    run = RunBoards(tmp_path / "run")
    assert run.held() == {}
    run.hold("gw0", "SIM0000")
    run.hold("gw1", "SIM0001")
    assert run.held(but="gw1") == {"gw0": "SIM0000"}
    run.hold("gw0", None)
    assert run.held() == {"gw1": "SIM0001"}
    run.remove()
    assert not (tmp_path / "run").exists()
