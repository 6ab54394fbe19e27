"""What a doctor run finds: each check's outcome, the run's report, and how long it measures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hil.backends.base import DeviceInfo

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
#: The checks, in the order the table shows them.
CHECKS = (
    "identity",
    "stop_watch",
    "input_held",
    "read_order",
    "config_write",
    "cores",
    "reset",
    "leak",
    "power",
    "unplug",
)


@dataclass(frozen=True)
class Plan:
    """How long each measurement runs: the full self-test or ``--quick``."""

    stop_watch_s: float = 1.0
    core_inputs: int = 500
    core_spacing_us: int = 200
    leak_s: float = 0.2
    power_s: float = 0.5
    large_config: bool = True


FULL = Plan()
QUICK = Plan(
    stop_watch_s=0.25,
    core_inputs=50,
    core_spacing_us=100,
    leak_s=0.1,
    power_s=0.2,
    large_config=False,
)


@dataclass(frozen=True)
class Finding:
    """One check's outcome: what was seen and, for a fail, what to do."""

    check: str
    outcome: str
    detail: str
    core: int | None = None
    advice: str = ""

    @property
    def text(self) -> str:
        return f"{self.detail}; to do: {self.advice}" if self.advice else self.detail

    def as_dict(self) -> dict:
        entry: dict[str, Any] = {"check": self.check, "outcome": self.outcome}
        entry["detail"] = self.text
        if self.core is not None:
            entry["core"] = self.core
        return entry


@dataclass
class DoctorReport:
    """Every finding of one doctor run, and the figures it measured (board facts)."""

    device: DeviceInfo
    date: str
    quick: bool
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    device_s: float = 0.0
    wall_s: float = 0.0

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures

    def first_failure(self) -> str:
        failure = self.failures[0]
        where = f" (core {failure.core})" if failure.core is not None else ""
        return f"doctor check {failure.check}{where} failed: {failure.detail}"


class DoctorError(ValueError):
    """The doctor cannot run on this device (not a samna devkit)."""
