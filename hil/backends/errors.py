"""A network the chip cannot run: the error the mapping (``deploy``) raises.

It lives apart from the device protocol so that the mapping can raise it without importing the
protocol that uses the mapping. A failing device is a ``DeviceError``, beside the ``Run`` it
carries (``hil.backends.base``).
"""

from __future__ import annotations


class DeployError(ValueError):
    """A network the chip cannot run, found before the device is touched. Names the layer."""

    def __init__(self, message: str, layer: int | None = None, limit: str | None = None):
        super().__init__(message)
        self.layer = layer
        self.limit = limit
