"""What goes wrong between the harness and a device: a bad network, or a failing device.

These live apart from the device protocol so that the mapping (``deploy``) can raise them
without importing the protocol that uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hil.backends.base import Run


class DeviceError(RuntimeError):
    """A device that failed, vanished or stopped answering. ``partial`` keeps the run up to
    the failure (inputs written, outputs collected), so nothing measured is lost."""

    def __init__(self, device: str, problem: str, partial: Run | None = None):
        super().__init__(f"{device}: {problem}")
        self.device = device
        self.problem = problem
        self.partial = partial


class DeviceUnavailable(DeviceError):
    """No device matching the spec can be opened here (none attached, or no real samna)."""


class DeployError(ValueError):
    """A network the chip cannot run, found before the device is touched. Names the layer."""

    def __init__(self, message: str, layer: int | None = None, limit: str | None = None):
        super().__init__(message)
        self.layer = layer
        self.limit = limit
