"""What the plugin keeps for one test, from its setup to its report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hil.backends import DeviceError
from hil.measurement import Measure


@dataclass
class ItemState:
    measure: Measure = field(default_factory=Measure)  # a HilMeasure once the fixture runs
    failed: bool = False
    judged: int = 0  # failures already reported when the test body ended
    artifacts: list[str] = field(default_factory=list)
    replays: list[dict] = field(default_factory=list)
    runs: int = 0
    device_error: DeviceError | None = None
    recovery: str | None = None
    serial: str | None = None  # the board the test ran on


_KEY = pytest.StashKey[ItemState]()


def state_of(item: pytest.Item) -> ItemState:
    """The item's state, made on first use."""
    if _KEY not in item.stash:
        item.stash[_KEY] = ItemState()
    return item.stash[_KEY]
