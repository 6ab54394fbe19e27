"""What pytest-xdist workers tell the controller, so a run has one record and one summary.

Each test's results already reach the controller with its report (``report.hil``, which
names the board that ran it). What only a worker knows about its session, its device line,
recovery notes and board leases, it sends once at the end through xdist's ``workeroutput``;
the controller adds it to the run record under ``session.workers`` and to the summary,
prefixed with the worker's id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hil.plugin.session import HilSession

#: The key in ``workeroutput``.
KEY = "speck_hil"
#: What of a worker's session goes into the controller's record.
SESSION_KEYS = ("device", "device_error", "pool")


def register(config: pytest.Config, hil: HilSession) -> None:
    config.pluginmanager.register(WorkerReports(hil), WorkerReports.name)


class WorkerReports:
    name = "hil-workers"

    def __init__(self, hil: HilSession):
        self.hil = hil
        self.workers: dict[str, dict] = {}
        self.lost: list[str] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """Every worker writes its artifacts into this session's run folder (with
        ``--hil-artifacts-keep N``)."""
        if self.hil.artifacts_run is not None:
            node.workerinput["hil_artifacts_run"] = self.hil.artifacts_run

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """On a worker, once the device is closed: send its session to the controller."""
        output = getattr(session.config, "workeroutput", None)
        if output is None:
            return
        output[KEY] = {
            "lines": self.hil.summary_device_lines(),
            "session": {key: self.hil.record.session.get(key) for key in SESSION_KEYS},
        }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        worker = node.gateway.id
        data = getattr(node, "workeroutput", {}).get(KEY)
        if data is None:
            self.lost.append(f"[{worker}] ended without reporting its device: {error}")
            return
        self.workers[worker] = data
        self.hil.record.session.setdefault("workers", {})[worker] = data["session"]
        self.hil.record.write()

    def pytest_hil_summary_lines(self, config: pytest.Config) -> list[str]:
        lines = [
            f"[{worker}] {line}"
            for worker, data in sorted(self.workers.items())
            for line in data["lines"]
        ]
        return lines + self.lost
