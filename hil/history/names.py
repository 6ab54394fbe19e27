"""Finding a series by the name a lab typed or pytest printed.

pytest prints test ids relative to the folder it was started from, the history keeps them
relative to the suite's rootdir (where its ini file is), so a nightly job started from a
cron folder prints ``nc/lab/test_lab.py::test_x`` for the stored ``test_lab.py::test_x``.
A name matches a stored series exactly, else by its path's tail on either side; an
unknown name gets the closest stored names suggested.
"""

from __future__ import annotations

import difflib
import fnmatch

from hil.history.records import HistoryError
from hil.history.series import SeriesKey


def matching(keys: list[SeriesKey], pattern: str | None) -> list[SeriesKey]:
    """The series whose TEST::MEASUREMENT matches a shell pattern (or contains ``pattern``)."""
    if not pattern:
        return list(keys)
    wildcard = any(ch in pattern for ch in "*?[")
    return [
        k for k in keys if (fnmatch.fnmatchcase(k.name, pattern) if wildcard else pattern in k.name)
    ]


def resolve(
    keys: list[SeriesKey], name: str, serial: str | None = None, profile: str | None = None
) -> list[SeriesKey]:
    """The stored series named ``name`` (TEST::MEASUREMENT) on ``serial`` and ``profile``
    when given; refused with the closest names when there is none."""
    test, sep, measurement = name.rpartition("::")
    if not sep or not test or not measurement:
        raise HistoryError(f"series {name!r}: expected TEST::MEASUREMENT")
    chosen = [k for k in keys if serial in (None, k.serial) and profile in (None, k.profile)]
    exact = [k for k in chosen if (k.test, k.measurement) == (test, measurement)]
    if exact:
        return exact
    tails = [
        k
        for k in chosen
        if k.measurement == measurement
        and (test.endswith("/" + k.test) or k.test.endswith("/" + test))
    ]
    if tails:
        return tails
    names = sorted({k.name for k in keys})
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise HistoryError(
        f"series {name!r}: not in the history{hint} (`speck-hil history series` lists them)"
    )
