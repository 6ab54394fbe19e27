"""The history in a pytest session: append the run, then compare it with the past.

With ``--hil-history`` the session's run record is appended to the store when the session
ends, and the terminal summary ends with what this run changed, per incident (the changes
that started in one run on one board): incidents that are open now and were not before it,
incidents it recovered, and those still open. ``--hil-fail-on-regression`` makes an open
incident with a change for the worse, in a series this run measured, fail the session (exit
status 1) and appear in the JUnit XML as a failed test case ``speck-hil-history::incident
ID`` with its series, start, before and after, and p; a lab clears it by fixing the cause
or with ``speck-hil history accept``.

The run is stored before pytest's JUnit writer runs (``tryfirst``), so the gate's test case
reaches the XML. A store that cannot be opened stops the session before any test runs; one
that fails when the run is appended loses nothing: the record is written beside the run for
a later ``speck-hil history import``.
"""

from __future__ import annotations

import pytest

from hil.history.records import HistoryError, RunEntry, from_record
from hil.plugin.session import session_of

GATE_NODE = "speck-hil-history"


class HistoryHooks:
    name = "hil-history"

    def __init__(self, config: pytest.Config, target: str, fail_on_regression: bool):
        from hil.history.store import HistoryStore

        self.config = config
        self.target = target
        self.fail_on_regression = fail_on_regression
        self.lines: list[tuple[str, dict]] = []
        try:
            HistoryStore(target).close()  # reachable and ours, before anything is measured
        except HistoryError as exc:
            raise pytest.UsageError(f"--hil-history: {exc}") from None

    @pytest.hookimpl(tryfirst=True)  # before pytest's JUnit writer
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        hil = session_of(self.config)
        hil.finish_record(exitstatus)
        data = hil.record.as_dict()
        try:
            now, before, measured = self._store(data)
        except (HistoryError, OSError, ValueError, TypeError, OverflowError) as exc:
            kept = hil.keep_record()
            self.lines = [
                (f"history: this run was NOT stored: {exc}", {"red": True}),
                (f"history: run record kept at {kept}; `speck-hil history import` it", {}),
            ]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        was_open = {i.id for i in before.open}
        self.lines = [(f"history: run stored in {self.shown}; {measured} series compared", {})]
        for incident in now.open:
            new = incident.id not in was_open
            text = ("NEW " if new else "open ") + incident.summary()
            self.lines.append((text, {"red": True} if new else {"yellow": True}))
        now_by_id = {i.id: i for i in now.incidents}
        for incident in before.open:
            after = now_by_id.get(incident.id)
            if after is not None and after.state != "open":
                self.lines.append((f"{after.state} {after.summary()}", {"green": True}))
        if not now.open:
            self.lines.append(("history: no open incidents in the series this run measured", {}))
        failing = now.failing
        self.lines.append(
            (
                f"history: {now.count_text()} failing the gate, of the series this run measured",
                {},
            )
        )
        if self.fail_on_regression and failing:
            self.lines.append((f"--hil-fail-on-regression: {now.count_text()}", {"red": True}))
            for incident in failing:
                self._report_to_junit(incident)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _store(self, data: dict):
        """Append the run; the assessment of the series it measured with it and without
        it, and how many series it measured."""
        from hil.history.incidents import assess
        from hil.history.store import HistoryStore

        entry = from_record(data, where="this session's run record", source="pytest")
        with HistoryStore(self.target) as store:
            self.shown = store.shown
            store.append(entry)
            history = store.load(keys=_measured(entry))
            acceptances = store.acceptances()
        before = _without_run(history, entry.run_id)
        return assess(history, acceptances), assess(before, acceptances), len(history.series)

    def _report_to_junit(self, incident) -> None:
        """The failing incident as a failed test case, through the report hook every
        reporter (JUnit XML, the terminal, the run record) listens to."""
        lines = [incident.summary()]
        for finding in incident.findings:
            if finding.fails_gate:
                c = finding.change
                lines.append(
                    f"{finding.key}: {c.direction} since {finding.run.started:%Y-%m-%d %H:%M}, "
                    f"median {c.before:.6g} -> {c.after:.6g} {finding.unit} "
                    f"({c.effect_text(finding.unit)}, p={c.p:.2g})"
                )
        nodeid = f"{GATE_NODE}::incident {incident.id}"
        location = (GATE_NODE, None, f"incident {incident.id}")
        hook = self.config.hook
        for when, outcome, longrepr in (
            ("setup", "passed", None),
            ("call", "failed", "\n".join(lines)),
            ("teardown", "passed", None),
        ):
            report = pytest.TestReport(nodeid, location, {}, outcome, longrepr, when)
            hook.pytest_runtest_logreport(report=report)

    @pytest.hookimpl(trylast=True)  # the summary ends with this run against history
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.lines:
            return
        terminalreporter.section("speck-hil history")
        for text, markup in self.lines:
            terminalreporter.line(text, **markup)


def _measured(entry: RunEntry) -> set:
    from hil.history.series import SeriesKey

    return {
        SeriesKey(r.test, r.measurement, r.serial or entry.serial, entry.profile)
        for r in entry.results
    }


def _without_run(history, run_id: str):
    """``history`` as it was before the run ``run_id``."""
    from hil.history.series import History, Series

    gone = [r.index for r in history.runs if r.run_id == run_id]
    if not gone:
        return history
    series = {}
    for key, s in history.series.items():
        keep = s.runs != gone[0]
        series[key] = Series(
            key,
            s.runs[keep],
            s.values[keep],
            s.unit,
            s.lower,
            s.upper,
            s.marginal,
            s.better,
            s.target,
        )
    return History(history.runs, series)


def register(config: pytest.Config, target: str | None, fail_on_regression: bool) -> None:
    """Register the hooks when a history is given and tests will run (on the controller only:
    an xdist worker's tests reach the controller's record)."""
    if target and not hasattr(config, "workerinput") and not config.option.collectonly:
        config.pluginmanager.register(
            HistoryHooks(config, target, fail_on_regression), HistoryHooks.name
        )
