"""What the session prints: its header lines, the device after collection, the summary."""

from __future__ import annotations

import pytest

from hil.plugin import summary
from hil.plugin.options import option, path_option
from hil.plugin.session import HilSession
from hil.recordings import folders


class TerminalLines:
    name = "hil-terminal"

    def __init__(self, session: HilSession):
        self.session = session

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        hil = self.session
        lines = [
            f"speck-hil: --device {hil.spec} ({hil.spec.kind}), scope {hil.scope}, "
            f"profile {hil.profile.source}",
            f"speck-hil: {hil.profile.budgets_note}",
            "speck-hil: recordings " + folders.describe(path_option(config, "recordings")),
        ]
        if hil.record.path:
            lines.append(f"speck-hil: run record {hil.record.path}")
        if hil.artifacts_dir:
            lines.append(f"speck-hil: artifacts under {hil.artifacts_dir}")
        if hil.pictures_nowhere():
            lines.append(f"speck-hil: WARNING: {hil.pictures_nowhere()}")
        return lines

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        return self.session.device_lines()

    def pytest_terminal_summary(self, terminalreporter) -> None:
        hil = self.session
        lines = summary.section(hil.record.tests, option(hil.config, "hil_summary"))
        above = hil.summary_device_lines()
        if not lines and not above and hil.record_kept is None:
            return
        terminalreporter.section("speck-hil")
        for line in above + lines:
            terminalreporter.line(line)
        if hil.pictures_nowhere():
            terminalreporter.line(f"WARNING: {hil.pictures_nowhere()}", yellow=True)
        if hil.record_kept is not None:
            terminalreporter.line(
                f"run record kept at {hil.record_kept} (--hil-report could not be written: "
                f"{hil.record.unwritten}); `speck-hil history import` it",
                red=True,
            )
        elif hil.record.path:
            terminalreporter.line(f"run record: {hil.record.path}")
