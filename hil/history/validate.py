"""A JSON file given to ``history import``, checked as hostile input before it is read.

The files come from other machines and other versions: nesting deep enough to exhaust
Python's parser, integers of hundreds of digits (no float holds them), times whose UTC
conversion leaves the calendar (year 1 with an offset), fields of the wrong type where an
object is expected, a record written by a newer speck-hil. Each is one problem line naming
the file and the field (``hil.history.records`` raises it), so one bad file never stops the
files after it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


class RecordProblem(ValueError):
    """One line naming the file and the field; ``records`` turns it into a HistoryError."""


#: The longest integer literal a record may hold (int64 has 19 digits).
MAX_INT_DIGITS = 20
#: Record times must lie in these years (their UTC conversion stays in the calendar).
YEARS = (1970, 9000)
#: Fields of a run record that must be objects (or absent), as (path, field).
OBJECTS = (
    (("session",), "device"),
    (("session",), "provenance"),
    (("session", "provenance"), "host"),
    (("session", "provenance"), "git"),
    (("session", "provenance"), "profile"),
    (("session", "provenance"), "versions"),
)


def parse_json(text: str, where: str) -> Any:
    """``json.loads``, with huge integers and deep nesting as errors naming the file."""
    try:
        return json.loads(text, parse_int=lambda digits: _bounded_int(digits, where))
    except RecursionError:
        raise RecordProblem(f"{where}: nested deeper than a run record can be") from None
    except json.JSONDecodeError as exc:
        raise RecordProblem(f"{where}: not JSON ({exc})") from None


def check_record(data: dict, where: str, reads_version: int) -> None:
    """Refuse a run record ``from_record`` would crash on or misread; ``reads_version`` is
    the record version this speck-hil reads."""
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > reads_version:
        raise RecordProblem(
            f"{where}: run record format version {version} was written by a newer speck-hil "
            f"(this one reads {reads_version}); upgrade speck-hil to import it"
        )
    for path, name in OBJECTS:
        parent = _at(data, path)
        value = parent.get(name) if isinstance(parent, dict) else None
        if value is not None and not isinstance(value, dict):
            field = ".".join((*path, name))
            raise RecordProblem(f"{where}: {field} is a {type(value).__name__}, not an object")
    versions = _at(data, ("session", "provenance", "versions")) or {}
    for key, value in versions.items():
        if value is not None and not isinstance(value, str):
            raise RecordProblem(f"{where}: session.provenance.versions.{key} is {value!r}")
    session = data.get("session") if isinstance(data.get("session"), dict) else {}
    for name in ("started", "ended"):
        _check_time(session.get(name), f"{where}: session.{name}")
    for index, test in enumerate(data.get("tests") or []):
        replays = test.get("replays") if isinstance(test, dict) else None
        if replays is not None and not (
            isinstance(replays, list) and all(isinstance(r, dict) for r in replays)
        ):
            raise RecordProblem(f"{where}: tests[{index}].replays is not a list of objects")


def _bounded_int(digits: str, where: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise RecordProblem(
            f"{where}: an integer of {len(digits.lstrip('-'))} digits (at most "
            f"{MAX_INT_DIGITS}: no run record holds one)"
        )
    return int(digits)


def _check_time(text: Any, where: str) -> None:
    if not isinstance(text, str):
        return  # from_record says what is missing
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        return
    if not YEARS[0] <= time.year <= YEARS[1]:
        raise RecordProblem(f"{where}: the year {time.year} is outside {YEARS[0]}..{YEARS[1]}")


def _at(data: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
