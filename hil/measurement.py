"""Measurements with limits: a value, its unit, the range it must fall in, and the verdict.

A check that only asserts loses the number; a measurement keeps it, passing or not, so a
nightly run shows a value drifting towards its limit before it crosses it. This module has
no pytest dependency: analysis code creates measurements too, and the pytest plugin only
collects and reports them.

Outcomes:

- ``fail``: outside ``lower ≤ value ≤ upper`` (limits are inclusive), or not a number (NaN);
- ``marginal``: inside the limits but within ``marginal`` (an absolute band, in the value's
  unit) of a limit, i.e. ``lower ≤ value ≤ lower + marginal`` or
  ``upper - marginal ≤ value ≤ upper``; it passes, and is flagged;
- ``pass``: everything else, including a value recorded without limits;
- ``skipped``: a check that cannot apply here (a stall on a device without time); the value
  is NaN and ``note`` says why. It neither passes nor fails.

``better`` says which way the value improves, for the nightly history's regression
detection: "lower", "higher", "zero" (nearer zero is better: a drift) or "target" (nearer
``target`` is better); left out, the history infers it from the limits.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from numbers import Real

BETTER = (None, "lower", "higher", "zero", "target")


class Outcome(str, enum.Enum):
    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


def judge(
    value: float, lower: float | None = None, upper: float | None = None, marginal: float = 0.0
) -> Outcome:
    """The outcome of ``value`` against inclusive limits and a marginal band beside each."""
    if math.isnan(value):
        return Outcome.FAIL
    if (lower is not None and value < lower) or (upper is not None and value > upper):
        return Outcome.FAIL
    if marginal and (
        (lower is not None and value <= lower + marginal)
        or (upper is not None and value >= upper - marginal)
    ):
        return Outcome.MARGINAL
    return Outcome.PASS


@dataclass(frozen=True)
class Measurement:
    """One measured value with its limits; ``outcome`` is judged when it is created."""

    name: str
    value: float
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    marginal: float | None = None
    note: str = ""  # where and why, for a reader of a failure: "layer 2 on core 1, ..."
    better: str | None = None  # lower, higher, zero or target: which way the value improves
    target: float | None = None  # the value ``better="target"`` is nearest to
    skipped: bool = False  # the check cannot apply; ``note`` says why
    outcome: Outcome = field(init=False)

    @classmethod
    def skip(cls, name: str, reason: str, unit: str = "") -> Measurement:
        """A measurement that cannot be made here, recorded with the reason."""
        return cls(name, math.nan, unit, note=reason, skipped=True)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _is_text(self.name):
            raise TypeError(
                f"measurement name {self.name!r}: must be text that UTF-8 can hold "
                "(a run record stores it)"
            )
        for what in ("unit", "note"):
            object.__setattr__(self, what, storable_text(getattr(self, what)))
        for what in ("value", "lower", "upper", "marginal", "target"):
            number = getattr(self, what)
            if number is None and what != "value":
                continue
            object.__setattr__(self, what, _checked_number(self.name, what, number))
        if self.better not in BETTER:
            raise ValueError(
                f"measurement {self.name!r}: better must be one of "
                f"{', '.join(map(str, BETTER))}; got {self.better!r}"
            )
        if (self.better == "target") != (self.target is not None):
            raise ValueError(
                f"measurement {self.name!r}: better='target' and a target go together; got "
                f"better={self.better!r}, target={self.target!r}"
            )
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(
                f"measurement {self.name!r}: lower limit {self.lower} is above upper {self.upper}"
            )
        if self.marginal is not None:
            if self.marginal < 0:
                raise ValueError(f"measurement {self.name!r}: marginal band must be ≥ 0")
            if self.lower is None and self.upper is None:
                raise ValueError(f"measurement {self.name!r}: a marginal band needs a limit")
        outcome = (
            Outcome.SKIPPED
            if self.skipped
            else judge(self.value, self.lower, self.upper, self.marginal or 0.0)
        )
        object.__setattr__(self, "outcome", outcome)

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    def limit_text(self) -> str:
        """The limit as ``lower ≤ x ≤ upper`` (one side left out when open), or ``none``."""
        parts = []
        if self.lower is not None:
            parts.append(f"{format_number(self.lower)} ≤")
        if self.lower is not None or self.upper is not None:
            parts.append("x")
        if self.upper is not None:
            parts.append(f"≤ {format_number(self.upper)}")
        return " ".join(parts) or "none"

    def value_text(self) -> str:
        if self.skipped:
            return "n/a"
        return f"{format_number(self.value)} {self.unit}".rstrip()

    def __str__(self) -> str:
        text = f"{self.name}: {self.value_text()}, limit {self.limit_text()}"
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict:
        """A JSON-ready record; non-finite numbers become the strings "nan", "inf", "-inf"."""
        return {
            "name": self.name,
            "value": _json_number(self.value),
            "unit": self.unit,
            "lower": _json_number(self.lower),
            "upper": _json_number(self.upper),
            "marginal": _json_number(self.marginal),
            "limit": self.limit_text(),
            "outcome": str(self.outcome),
            "note": self.note,
            "better": self.better,
            **({"target": self.target} if self.target is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        """The measurement ``as_dict`` wrote (a run record's), judged again from its limits."""
        return cls(
            str(data["name"]),
            _from_json_number(data["value"]),
            str(data.get("unit") or ""),
            _from_json_number(data.get("lower")),
            _from_json_number(data.get("upper")),
            _from_json_number(data.get("marginal")),
            note=str(data.get("note") or ""),
            better=data.get("better"),
            target=_from_json_number(data.get("target")),
            skipped=data.get("outcome") == str(Outcome.SKIPPED),
        )


class Measure:
    """Records a test's measurements: ``measure(name, value, unit, lower=, upper=,
    marginal=, better=, target=, note=)``. Nothing raises when a value is out of its limit,
    so every measurement of a test is kept; whoever owns the recorder judges them all at the
    end (``failures``)."""

    def __init__(self) -> None:
        self.measurements: list[Measurement] = []

    def __call__(
        self,
        name: str,
        value: float,
        unit: str = "",
        lower: float | None = None,
        upper: float | None = None,
        marginal: float | None = None,
        better: str | None = None,
        target: float | None = None,
        note: str = "",
    ) -> Measurement:
        return self.add(
            Measurement(
                name, value, unit, lower, upper, marginal, note=note, better=better, target=target
            )
        )

    def skip(self, name: str, reason: str, unit: str = "") -> Measurement:
        """Record that the measurement ``name`` cannot be made here, and why."""
        return self.add(Measurement.skip(name, reason, unit))

    def add(self, measurement: Measurement) -> Measurement:
        """Record a measurement made elsewhere (analysis code builds its own)."""
        self.measurements.append(measurement)
        return measurement

    @property
    def failures(self) -> list[Measurement]:
        return [m for m in self.measurements if m.failed]

    def __iter__(self):
        return iter(self.measurements)


def failure_report(measurements: list[Measurement]) -> str:
    """The message a test fails with: every failed measurement, one per line."""
    failed = [m for m in measurements if m.failed]
    lines = [f"{len(failed)} of {len(measurements)} measurements out of limits:"]
    lines += [f"  {m}" for m in failed]
    return "\n".join(lines)


def format_number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


#: Integers a run record keeps exactly (SQLite's and most JSON readers' range); a larger one
#: is stored as the float nearest it.
MAX_EXACT_INT = 2**63 - 1


def _checked_number(name: str, what: str, number: object) -> int | float:
    """A value as a plain int or float that every run record and store can hold, checked
    when it is measured (not when the record is written, after the session): numpy scalars
    become Python numbers, a Fraction a float, an int beyond 64 bits the float nearest it;
    a bool, a non-number or a number no float holds (10**400) is refused."""
    plain = number.item() if hasattr(number, "item") else number
    if isinstance(plain, bool) or not isinstance(plain, Real):
        kind = "a boolean" if isinstance(plain, bool) else type(number).__name__
        raise TypeError(f"measurement {name!r}: {what} must be a number, got {kind} {number!r}")
    if isinstance(plain, int) and abs(plain) <= MAX_EXACT_INT:
        return plain
    if isinstance(plain, float):
        return plain
    try:
        return float(plain)
    except OverflowError:
        digits = len(str(abs(int(plain)))) if isinstance(plain, int) else "too many"
        raise ValueError(
            f"measurement {name!r}: {what} ({digits} digits) is beyond what a float holds"
        ) from None


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: from a file name that is not UTF-8
        return False
    return True


def storable_text(text: object) -> str:
    """Text UTF-8 can hold (a unit, a note, a test id from a file name that is not UTF-8):
    a lone surrogate stays visible as its escape (``\\udcff``), the rest unchanged."""
    text = str(text)
    return text if _is_text(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_number(value: float | None):
    if value is None or isinstance(value, int) or math.isfinite(value):
        return value
    return str(value)


def _from_json_number(value) -> float | None:
    return float(value) if isinstance(value, str) else value
