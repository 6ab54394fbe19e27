"""Hooks the plugin offers to conftest files and other plugins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hil.backends.base import Device


@pytest.hookspec(firstresult=True)
def pytest_hil_open_device(config: pytest.Config, spec: str, profile: Path | None) -> Device | None:
    """Open the device ``--device`` names, with ``profile`` the ``--profile`` override file.

    The plugin's own implementation runs last and calls ``hil.backends.open_device``; a
    conftest that returns a ``Device`` stands in its own (a lab rig, or a fake that fails on
    demand in the harness's tests). Raise ``DeviceError`` for a device that cannot be opened.
    """


def pytest_hil_summary_lines(config: pytest.Config) -> list[str]:
    """Lines for the speck-hil summary, below the device line and its recovery notes: the
    boards a pool leased and quarantined, what each xdist worker's device was."""
