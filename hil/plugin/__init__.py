"""The pytest plugin, registered as ``hil`` through the ``pytest11`` entry point.

Disable it with ``pytest -p no:hil``. This module is the face pytest loads: the options, the
fixtures, and ``pytest_configure``, which makes the session's state (``hil.plugin.session``)
and registers the parts that hook into the run, each with one job: the device's lifetime
(``lifetime``), markers, each test's results (``results``), the terminal (``terminal``), the
history, board pools and xdist workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hil import chatter
from hil.backends import Device, open_device
from hil.backends.samna_guard import guard_samna_import
from hil.plugin.fixtures import device_profile, measure, recording, recordings_dir, speck
from hil.plugin.options import add_options, history_target, option, quiet_ms

# Before any conftest or test module imports sinabs (which imports samna): never PyPI's
# placeholder, which runs pip when imported.
guard_samna_import()

__all__ = [
    "device_profile",
    "measure",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_configure",
    "pytest_hil_open_device",
    "recording",
    "recordings_dir",
    "speck",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from hil.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_hil_open_device(config: pytest.Config, spec: str, profile: Path | None) -> Device:
    return open_device(spec, profile, quiet_ms=quiet_ms(config))


def pytest_configure(config: pytest.Config) -> None:
    from hil.plugin import history, pool, workers
    from hil.plugin.lifetime import DeviceLifetime
    from hil.plugin.markers import MARKERS, MarkerSkips
    from hil.plugin.results import TestResults
    from hil.plugin.session import HilSession
    from hil.plugin.terminal import TerminalLines

    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if not option(config, "hil_chatter"):
        for line in chatter.WARNING_FILTERS:
            config.addinivalue_line("filterwarnings", line)
    session = HilSession(config)
    for part in (
        DeviceLifetime(session),
        MarkerSkips(session.spec),
        TestResults(session),
        TerminalLines(session),
    ):
        config.pluginmanager.register(part, part.name)
    history.register(config, history_target(config), option(config, "hil_fail_on_regression"))
    boards = pool.register(config, session)
    if boards is not None and xdist_running(config):
        from hil.plugin import scheduler  # pytest-xdist is running: it is installed

        scheduler.register(config, boards)
    workers.register(config, session)


def xdist_running(config: pytest.Config) -> bool:
    """This process is an xdist worker, or the controller of some."""
    return hasattr(config, "workerinput") or getattr(config.option, "dist", "no") != "no"
