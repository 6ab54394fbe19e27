"""Each test's results: its measurements judged, its report, its entry in the run record.

A test fails at the end of its body when a measurement is out of limits, listing each one;
the report carries the measurements, replays, artifacts and device error to the run record
(through xdist's report serialisation when a worker ran the test).
"""

from __future__ import annotations

import pytest

from hil.backends import DeviceError
from hil.measurement import failure_report
from hil.plugin import artifacts, junit
from hil.plugin.artifacts import folder_for
from hil.plugin.session import HilSession
from hil.plugin.state import state_of


class TestResults:
    __test__ = False  # a hook class, not a test class

    name = "hil-results"

    def __init__(self, session: HilSession):
        self.session = session
        self._phases: dict[str, dict] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        state = state_of(item)
        try:
            yield
        finally:
            state.judged = len(state.measure.failures)
        if state.judged:
            pytest.fail(failure_report(state.measure.measurements), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        state = state_of(item)
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, DeviceError) and state.device_error is None:
            state.device_error = error
        if call.when == "teardown":
            self.session.draw(item, state)
            item.user_properties += junit.properties(state.measure)
        report = yield
        crash = getattr(report.longrepr, "reprcrash", None)
        if isinstance(error, DeviceError) and crash is not None:
            # pytest's short summary trims to the terminal: lead with the error, not its module
            crash.message = f"{type(error).__name__}: {error}"
        state.failed = state.failed or report.failed or hasattr(report, "wasxfail")
        discard = self.session.artifacts_keep == artifacts.KEEP_FAILED and not state.failed
        if call.when == "teardown" and discard and self.session.artifacts_dir is not None:
            artifacts.clear(folder_for(self.session.artifacts_dir, item.nodeid))
            state.artifacts = []
        if call.when == "teardown":
            report.hil = {
                "measurements": [m.as_dict() for m in state.measure],
                "replays": state.replays,
                "artifacts": state.artifacts,
                "device_error": str(state.device_error) if state.device_error else None,
                "recovery": state.recovery,
                "device": self.session.devices.info_dict(),
                "serial": state.serial,
            }
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self._phases.setdefault(
            report.nodeid,
            {"nodeid": report.nodeid, "outcome": "passed", "duration_s": 0.0, "message": None},
        )
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 6)
        if entry["outcome"] == "passed":
            entry["outcome"], entry["message"] = outcome(report)
        if report.when != "teardown":
            return
        del self._phases[report.nodeid]
        extra = getattr(report, "hil", {})
        record = self.session.record
        if extra.get("device") is not None:
            record.session["device"] = extra["device"]
        entry.update(
            measurements=extra.get("measurements", []),
            replays=extra.get("replays", []),
            artifacts=extra.get("artifacts", []),
            device_error=extra.get("device_error"),
            recovery=extra.get("recovery"),
            serial=extra.get("serial"),
        )
        record.add_test(entry)


def outcome(report: pytest.TestReport) -> tuple[str, str | None]:
    """A phase's outcome for the run record: passed, failed, error, skipped, xfailed, xpassed."""
    if hasattr(report, "wasxfail"):
        return ("xfailed" if report.skipped else "xpassed"), report.wasxfail or None
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skipped", reason.removeprefix("Skipped: ")
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        return ("failed" if report.when == "call" else "error"), message
    return "passed", None
