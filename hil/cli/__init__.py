"""The ``speck-hil`` command line: one module per command group, assembled here.

Errors a user can fix (a bad file, a wrong option) end the command with status 2 and one line
on stderr naming the file and the problem, never a traceback (``hil.cli.common``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

from hil import __version__, backends, chatter
from hil.backends.samna_guard import guard_samna_import
from hil.cli import (
    boards,
    calibrate,
    check,
    devices,
    doctor,
    history,
    init,
    recordings,
    replay,
    sweep,
)
from hil.cli.common import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_OK, OneLineParser
from hil.environment import check_environment
from hil.events import EventError
from hil.recordings import RecordingError

#: The command groups, in the order ``--help`` lists them.
COMMANDS = (recordings, init, devices, replay, check, history, calibrate, sweep, doctor, boards)


def main(argv: Sequence[str] | None = None) -> int:
    guard_samna_import()  # before a model file imports sinabs: never PyPI's placeholder samna
    chatter.quiet()  # sinabs' warnings a deploy always gives, as in pytest
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        check_environment()
        code = args.command(args)
        sys.stdout.flush()  # a closed pipe is found here, not at exit
        if argv is None:  # the process's own command: threads a model file left end with it
            _end_with_stray_threads(code)
        return code
    except BrokenPipeError:  # `speck-hil ... | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (RecordingError, EventError, ValueError) as exc:  # ModelError too
        print(f"speck-hil: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # an output that failed while written (a full disk, a lost mount)
        print(f"speck-hil: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except backends.DeviceError as exc:
        print(f"speck-hil: device error: {exc}", file=sys.stderr)
        return EXIT_DEVICE


def _end_with_stray_threads(code: int) -> None:
    """A model file (code the user gave) may start a thread that never ends; the command is
    done, so the process ends now instead of waiting for it forever."""
    stray = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
    stray = [name for name in stray if name != threading.main_thread().name]
    if stray:
        print(f"speck-hil: note: ended thread {stray[0]!r} the model left running", file=sys.stderr)
        sys.stderr.flush()
        os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="speck-hil",
        description="Hardware-in-the-loop tests for SynSense Speck devkits.",
    )
    parser.add_argument("--version", action="version", version=f"speck-hil {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in COMMANDS:
        group.add_parser(commands)
    return parser
