"""The ``speck-hil`` section of pytest's terminal summary, read at a glance.

By default (``--hil-summary failed``) it lists only what needs a look: measurements out of
their limits, marginal ones, and the failures a test expected (an ``xfail`` test's failing
measurements, marked ``expected``); ``all`` lists every measurement, ``none`` none. Then one
line tallies the measurements per outcome, and says how many tests a device error cut short,
so a tally of passes never hides one (the device session's notes give each error in full).
"""

from __future__ import annotations

from hil.measurement import Measurement

MODES = ("failed", "all", "none")
EXPECTED_FAIL = "fail (expected)"
EXPECTED_MARGINAL = "marginal (expected)"
#: Row order and tally order: what needs a look first.
ORDER = ("fail", EXPECTED_FAIL, "marginal", EXPECTED_MARGINAL, "skipped", "pass")
_EXPECTING = {"xfailed", "xpassed"}
_HEADER = ("test", "measurement", "value", "limit", "outcome")


def rows(tests: list[dict]) -> list[tuple[str, str, str, str, str]]:
    """(test, measurement, value, limit, outcome) for every measurement, in ``ORDER``."""
    found = []
    for test in tests:
        expected = test.get("outcome") in _EXPECTING
        for m in map(Measurement.from_dict, test.get("measurements", [])):
            outcome = str(m.outcome)
            if expected and outcome in ("fail", "marginal"):
                outcome = f"{outcome} (expected)"
            found.append((test["nodeid"], m.name, m.value_text(), m.limit_text(), outcome))
    rank = {outcome: i for i, outcome in enumerate(ORDER)}
    return sorted(found, key=lambda row: rank.get(row[4], len(ORDER)))


def table(selected: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned text lines under a header."""
    widths = [max(len(row[i]) for row in [_HEADER, *selected]) for i in range(len(_HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [_HEADER, *selected]
    ]


def tally(all_rows: list[tuple[str, ...]], tests: list[dict]) -> str:
    """One line: measurements per outcome, and the tests a device error cut short."""
    counts = {o: sum(row[4] == o for row in all_rows) for o in ORDER}
    line = f"{len(all_rows)} measurements: " + (
        ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "none"
    )
    cut = sum(1 for test in tests if test.get("device_error"))
    if cut:
        line += f"; {cut} test{'s' if cut > 1 else ''} ended by a device error (not all measured)"
    return line


def section(tests: list[dict], mode: str = "failed") -> list[str]:
    """The table and tally for ``mode`` (one of ``MODES``); empty when nothing was measured and
    no device failed."""
    all_rows = rows(tests)
    if not all_rows and not any(test.get("device_error") for test in tests):
        return []
    shown = [] if mode == "none" else all_rows
    if mode == "failed":
        shown = [row for row in all_rows if row[4] != "pass"]
    lines = []
    if shown:
        lines += ["", *table(shown)]
    elif mode == "failed" and all_rows:
        lines += ["", "no measurement failed or was marginal (--hil-summary all lists them all)"]
    return [*lines, tally(all_rows, tests)]
