"""``speck-hil init DIR``: a lab suite that passes at once on the emulated devkit.

The files come from ``hil/templates/lab`` (package data): a pytest.ini with the harness's
options, an example test that builds its own network and uses every check, a recordings folder
with an empty manifest, and a README of the folder. Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from hil.cli.common import refuse_unwritable_dir

TEMPLATE = "templates/lab"


def add_parser(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="write a lab suite (pytest.ini, example test, recordings folder) into DIR",
        description=(
            "Write a lab suite into DIR: a pytest.ini with the harness's options, an example "
            "test that builds its own network and uses every check, a recordings/ folder with "
            "a manifest, and a README. It passes at once on the emulated devkit: pytest DIR."
        ),
    )
    init.add_argument("directory", type=Path, metavar="DIR")
    init.set_defaults(command=_init)


def _init(args: argparse.Namespace) -> int:
    refuse_unwritable_dir(args.directory, "DIR")
    for path in init_suite(args.directory):
        print(f"wrote {path}")
    print(f"run it: pytest {args.directory}")
    return 0


class ScaffoldError(ValueError):
    """A folder that cannot take the scaffold."""


def template_files() -> dict[str, bytes]:
    """Relative path -> content of every template file."""
    root = resources.files("hil").joinpath(TEMPLATE)
    files: dict[str, bytes] = {}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            if entry.name == "__pycache__":
                continue
            relative = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((entry, relative + "/"))
            else:
                files[relative] = entry.read_bytes()
    return dict(sorted(files.items()))


def init_suite(directory: str | os.PathLike) -> list[Path]:
    """Write the lab suite into ``directory`` (created if missing); returns the files written.

    Refuses, writing nothing, when any of the files already exists there.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(f"{directory}: exists and is not a folder")
    files = template_files()
    clashes = [name for name in files if (directory / name).exists()]
    if clashes:
        raise ScaffoldError(
            f"{directory}: already has {', '.join(clashes)}; nothing written "
            "(init writes a new suite; move those files away first)"
        )
    written = []
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    return written
