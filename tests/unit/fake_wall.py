"""A wall clock that only moves when a test says so, for the emulated devkit's time.

Import ``fake_wall_clock`` into a test module to get the ``wall`` fixture."""

import pytest

from hil.emulator import wall_time


class FakeWall:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture(name="wall")
def fake_wall_clock(monkeypatch) -> FakeWall:
    """The emulated chips' wall clock, stopped until ``wall.sleep(s)``."""
    fake = FakeWall()
    monkeypatch.setattr(wall_time, "monotonic", fake)
    return fake
