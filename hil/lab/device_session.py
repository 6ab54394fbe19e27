"""The device a test session runs on: when it is opened and closed, what a test gets, and
what happens when it fails.

Clean state: every deployment a test replays is tracked, and when the test ends each is reset
(neuron states zeroed; on a samna device the configuration is written again), so no state
leaks into the next test whatever ``--device-scope`` says. A later test's ``deploy`` replaces
the configuration an earlier one left on the chip.

Recovery: when a test ends with a ``DeviceError`` (or the clean-up reset raises one), the
session tries a soft reset (resetting the test's deployments), then closes and re-opens the
device. Either counts only when the device then answers a barrier read (``Device.probe``):
loading a configuration needs no reply, so a silent device would "recover" from anything.
If neither brings an answer, the device is broken after that one test; if device tests keep
failing ``MAX_CONSECUTIVE_FAILURES`` times in a row although it answers, too. A broken device
refuses every later device test with the cause instead of running into the same failure.

No pytest here: the plugin maps "unavailable" and "broken" onto skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from hil.backends.base import Deployment, Device, DeviceError, DeviceInfo, Run

SCOPES = ("session", "module", "function")
MAX_CONSECUTIVE_FAILURES = 3


class DeviceRefused(Exception):
    """No device for this test: it could not be opened, or broke earlier in the session."""


class DeviceSession:
    """Holds at most one open device, opened through ``opener`` when a test needs it."""

    def __init__(self, spec: str, opener: Callable[[], Device]):
        self.spec = spec
        self._opener = opener
        self.device: Device | None = None
        self.info: DeviceInfo | None = None
        self.opens = 0
        self.unavailable: str | None = None
        self.broken: str | None = None
        self.open_failure: Exception | None = None
        self.notes: list[str] = []
        self._replayed: list[Deployment] = []
        self._on_run: Callable[[Run], None] | None = None
        self._failures_in_a_row = 0

    def open(self) -> Device:
        """The open device, opening it if needed. Raises ``DeviceError`` when it cannot be
        opened (remembered as ``unavailable`` if it never was), other exceptions as they are."""
        if self.device is None:
            try:
                self.device = self._opener()
            except DeviceError as exc:
                if self.opens == 0:
                    self.unavailable = exc.problem if exc.device == self.spec else str(exc)
                raise
            except Exception as exc:
                self.open_failure = exc
                raise
            self.opens += 1
            self.info = self.device.info
        return self.device

    def begin_test(self, on_run: Callable[[Run], None] | None = None) -> Device:
        """The device for one test; raises ``DeviceRefused`` when there is none."""
        if self.broken:
            raise DeviceRefused(f"device broken earlier in this session: {self.broken}")
        if self.unavailable:
            raise DeviceRefused(self.unavailable)
        try:
            device = self.open()
        except DeviceError as exc:
            if self.unavailable:
                raise DeviceRefused(self.unavailable) from exc
            self.broken = f"{self.spec} could not be re-opened: {exc}"
            raise DeviceRefused(f"device broken: {self.broken}") from exc
        self._replayed = []
        self._on_run = on_run
        device.run_listeners.append(self._listen)
        return device

    def end_test(self, test: str, error: DeviceError | None = None) -> str | None:
        """Reset what the test replayed; recover when ``error`` (the device error the test
        ended with) or the reset says the device failed. Returns what recovery did, if any."""
        device = self.device
        if device is not None and self._listen in device.run_listeners:
            device.run_listeners.remove(self._listen)
        replayed, self._replayed, self._on_run = self._replayed, [], None
        if error is None:
            try:
                _reset_all(replayed)
            except DeviceError as exc:
                error = exc
        if error is None:
            self._failures_in_a_row = 0
            return None
        note = self._recover(test, error, replayed)
        self.notes.append(note)
        return note

    def close(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            try:
                device.close()
            except Exception as exc:  # a device that died cannot always be closed cleanly
                self.notes.append(f"closing {device.info} failed: {exc}")

    def info_dict(self) -> dict | None:
        return asdict(self.info) if self.info else None

    def _listen(self, run: Run) -> None:
        if all(run.deployment is not d for d in self._replayed):
            self._replayed.append(run.deployment)
        if self._on_run is not None:
            self._on_run(run)

    def _recover(self, test: str, error: DeviceError, replayed: list[Deployment]) -> str:
        self._failures_in_a_row += 1
        cause = f"{error} (in {test})"
        if self._failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            self.broken = f"{cause}; {self._failures_in_a_row} device tests in a row failed"
            self.close()
            return f"device broken: {self.broken}"
        live = [d for d in replayed if d.device is self.device]
        try:
            if self.device is None:
                raise DeviceError(self.spec, "not open")
            _reset_all(live)
            self.device.probe(live[0] if live else None)
        except Exception as exc:
            soft_reset = str(exc)
        else:
            return f"device error {cause}; recovered by a soft reset (the device answered)"
        self.close()
        try:
            self.open().probe(replayed[0] if replayed else None)
        except Exception as exc:
            self.close()
            self.broken = f"{cause}; soft reset ({soft_reset}) and re-open ({exc}) failed"
            return f"device broken: {self.broken}"
        return (
            f"device error {cause}; recovered by closing and re-opening the device "
            "(the device answered)"
        )


def _reset_all(deployments: list[Deployment]) -> None:
    for deployment in deployments:
        deployment.reset()
