"""The history in a pytest session: append the run, then compare it with the past.

With ``--hil-history`` the session's run record is appended to the store when the session
ends, and the terminal summary ends with what this run changed: regressions that are open now
and were not before it, and regressions it ended; changes of a series whose better direction
is unknown are listed as changes. ``--hil-fail-on-regression`` makes an open regression (a
change for the worse) in a series this run measured fail the session (exit status 1), for
nightly jobs.

A store that cannot be opened stops the session before any test runs; one that fails when
the run is appended loses nothing: the record is written beside the run for a later
``speck-hil history import``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.history.records import HistoryError, from_record
from hil.plugin.session import session_of


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

    @pytest.hookimpl(trylast=True)  # after the session plugin has finished the record
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        record = session_of(self.config).record
        data = record.as_dict()
        try:
            regressions, new, recovered, compared = self._store(data)
        except HistoryError as exc:
            kept = self._keep(record, data)
            self.lines = [
                (f"history: this run was NOT stored: {exc}", {"red": True}),
                (f"history: run record kept at {kept}; `speck-hil history import` it", {}),
            ]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        self.lines = [(f"history: run stored in {self.shown}; {compared} series compared", {})]
        self.lines += [(f"NEW {_kind(f)} {_text(f)}", {"red": True}) for f in new]
        self.lines += [
            (
                f"recovered {f.key}: the regression since {f.run.started:%Y-%m-%d} is gone",
                {"green": True},
            )
            for f in recovered
        ]
        still = [f for f in regressions if f.key not in {n.key for n in new}]
        self.lines += [(f"open {_kind(f).lower()} {_text(f)}", {"yellow": True}) for f in still]
        if not (new or recovered or still):
            self.lines.append(("history: no open regressions in the series this run measured", {}))
        worse = [f for f in regressions if f.change.direction == "worse"]
        if self.fail_on_regression and worse:
            self.lines.append(
                (f"--hil-fail-on-regression: {len(worse)} open regression(s)", {"red": True})
            )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _store(self, data: dict):
        """Append the run; (open regressions, new ones, recovered ones) in its series, and
        how many series it measured."""
        from hil.history.regressions import find, open_regressions
        from hil.history.store import HistoryStore

        entry = from_record(data, where="this session's run record", source="pytest")
        with HistoryStore(self.target) as store:
            self.shown = store.shown
            store.append(entry)
            mine = {k for k in store.series() if self._measured_by(k, entry)}
            history = {k: store.points(k) for k in mine}
        before = {k: [p for p in v if p.run_id != entry.run_id] for k, v in history.items()}
        open_before = {f.key: f for f in open_regressions(find(before))}
        open_now = open_regressions(find(history))
        new = [f for f in open_now if f.key not in open_before]
        now_keys = {f.key for f in open_now}
        recovered = [f for k, f in open_before.items() if k not in now_keys]
        return open_now, new, recovered, len(history)

    @staticmethod
    def _measured_by(key, entry) -> bool:
        return key.profile == entry.profile and any(
            (r.test, r.measurement, r.serial or entry.serial)
            == (key.test, key.measurement, key.serial)
            for r in entry.results
        )

    def _keep(self, record, data: dict) -> Path:
        if record.path is not None:
            return record.path
        path = self.config.invocation_params.dir / f"hil-run-{data['session']['run_id']}.json"
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
        return path

    @pytest.hookimpl(trylast=True)  # the summary ends with this run against history
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.lines:
            return
        terminalreporter.section("speck-hil history")
        for text, markup in self.lines:
            terminalreporter.line(text, **markup)


def register(config: pytest.Config, target: str | None, fail_on_regression: bool) -> None:
    """Register the hooks when a history is given and tests will run (on the controller only:
    an xdist worker's tests reach the controller's record)."""
    if target and not hasattr(config, "workerinput") and not config.option.collectonly:
        config.pluginmanager.register(
            HistoryHooks(config, target, fail_on_regression), HistoryHooks.name
        )


def _kind(finding) -> str:
    """A change of known direction is a regression; one of unknown direction a change."""
    return "REGRESSION" if finding.change.direction == "worse" else "CHANGE"


def _text(finding) -> str:
    c = finding.change
    return (
        f"{finding.key}: {c.direction}, median {c.before:.6g} -> {c.after:.6g} "
        f"({c.effect:+.1%}, p={c.p:.2g}) since {finding.run.started:%Y-%m-%d %H:%M} "
        f"(commit {(finding.run.git_commit or '-')[:10]})"
    )
