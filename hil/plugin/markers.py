"""The plugin's markers: ``hardware`` (a real chip only) and ``device(*patterns)``.

Tests are skipped by marker up front, at collection, so the skip names the test, not the
plugin.
"""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from hil.backends.spec import DeviceSpec

MARKERS = (
    "hardware: needs a real chip; skipped on emulated and software devices",
    "device(*patterns): runs only on device types matching a pattern, e.g. 'speck2f*'",
)


def marker_skip(item: pytest.Item, spec: DeviceSpec) -> str | None:
    """Why ``item`` does not run on the device ``spec`` names, or None when it does."""
    if item.get_closest_marker("hardware") and spec.kind != "real":
        return f"needs a real chip; --device {spec} is {spec.kind}"
    mark = item.get_closest_marker("device")
    if mark is None:
        return None
    if not mark.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.device needs a pattern")
    if any(fnmatch(spec.device_type, pattern) for pattern in mark.args):
        return None
    return f"runs only on {' or '.join(mark.args)}; --device {spec} is a {spec.device_type}"


class MarkerSkips:
    name = "hil-markers"

    def __init__(self, spec: DeviceSpec):
        self.spec = spec

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            reason = marker_skip(item, self.spec)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
