"""When the session's device is opened and closed, in pytest's terms.

It is opened after collection when a collected test uses ``speck`` (or ``--require-device``
asks), held while device tests run, and closed before a test that does not use it, at the end
of each test or module as ``--device-scope`` says, and when the session ends.
"""

from __future__ import annotations

import pytest

from hil.backends import DeviceError
from hil.plugin import artifacts
from hil.plugin.artifacts import folder_for
from hil.plugin.session import HilSession


def _uses_device(item: pytest.Item) -> bool:
    return "speck" in getattr(item, "fixturenames", ())


class DeviceLifetime:
    name = "hil-device-lifetime"

    def __init__(self, session: HilSession):
        self.session = session

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session.record.write()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        hil = self.session
        if hil.config.option.collectonly or not hil.open_after_collection:
            return
        if not (hil.require or any(_uses_device(i) for i in session.items)):
            return
        try:
            hil.devices.open()
        except Exception as exc:
            reason = hil.refusal(hil.devices.unavailable or exc)
            hil.record.session["device_error"] = reason
            hil.record.write()
            if hil.require:
                raise pytest.UsageError(f"--require-device: {reason}") from None
            if isinstance(exc, DeviceError):
                skip = pytest.mark.skip(reason=reason)
                for item in session.items:
                    if _uses_device(item):
                        item.add_marker(skip)
        else:
            hil.device_opened()

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A device is held only while device tests run, so a test that does not use
        ``speck`` (or the code it tests) can open the device itself."""
        if not _uses_device(item):
            self.session.devices.close()
        if self.session.artifacts_dir is not None:  # what an earlier run of it left
            artifacts.clear(folder_for(self.session.artifacts_dir, item.nodeid))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        yield
        module_ends = nextitem is None or nextitem.getparent(pytest.Module) is not item.getparent(
            pytest.Module
        )
        scope = self.session.scope
        if (scope == "function" and _uses_device(item)) or (scope == "module" and module_ends):
            self.session.devices.close()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.session.devices.close()
        if not self.session.finish_record(exitstatus):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # not where it was asked for
