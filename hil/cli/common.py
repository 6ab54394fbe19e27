"""What every ``speck-hil`` command shares: exit statuses, argument types, output checks.

Errors a user can fix (a bad file, a wrong option) end a command with status 2 and one line on
stderr naming the file and the problem, never a traceback; a device that fails gives 3.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from hil.files import unwritable_dir, unwritable_file

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DEVICE = 3

MODEL_HELP = (
    "FILE.pt (a network saved with torch.save: loaded as data, never run), or "
    "module:function / file.py:function returning a sinabs network: these are code and run "
    "as Python, like any script you run"
)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of the command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def size2(text: str) -> tuple[int, int]:
    """``WxH``."""
    return _size(text, 2)


def size3(text: str) -> tuple[int, int, int]:
    """``WxHxP``."""
    return _size(text, 3)


def shape3(text: str) -> tuple[int, int, int]:
    """``C,H,W`` (or ``CxHxW``)."""
    return _size(text.replace(",", "x"), 3)


def _size(text: str, parts: int) -> tuple:
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != parts or min(size) < 1:
        shape = "x".join("WHP"[:parts])
        raise argparse.ArgumentTypeError(f"expected {shape} with positive integers, got {text!r}")
    return size


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def refuse_unwritable(path: Path, option: str) -> None:
    """Refuse an output path before any work is done for it."""
    problem = unwritable_file(path)
    if problem:
        raise ValueError(f"{option} {path}: {problem}")


def refuse_unwritable_dir(path: Path, option: str) -> None:
    """Refuse an output folder (made on demand) before any work is done for it."""
    problem = unwritable_dir(path)
    if problem:
        raise ValueError(f"{option} {path}: {problem}")


def print_rows(rows: list[tuple[str, str]], indent: str = "  ") -> None:
    """Label-value rows, the values aligned."""
    width = max((len(label) for label, _ in rows), default=0) + 2
    for label, value in rows:
        print(f"{indent}{label:<{width}}{value}")


def positive_numbers(text: str) -> tuple[float, ...]:
    """A comma-separated list of finite positive numbers: ``1,2,5,10``."""
    try:
        numbers = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected factors like 1,2,5,10; got {text!r}") from None
    if not numbers or any(not (math.isfinite(n) and n > 0) for n in numbers):
        raise argparse.ArgumentTypeError(f"factors must be positive numbers; got {text!r}")
    return numbers
