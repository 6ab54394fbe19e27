"""``speck-hil devices``: what ``--device`` can name on this machine, and which samna it has."""

from __future__ import annotations

import argparse
from pathlib import Path

from hil import backends
from hil.chip.devices import DEVICE_TYPES
from hil.chip.profile import load_profile


def add_parser(commands: argparse._SubParsersAction) -> None:
    devices = commands.add_parser(
        "devices",
        help="list the devices this machine can open, and which samna it has",
        description=(
            "List every device --device can name here: real devkits (only with the real "
            "samna), the emulated devkits and the software backends. Never imports samna "
            "to find out which one is installed."
        ),
    )
    devices.add_argument(
        "--profile", type=Path, help="device profile override: whose budgets to report"
    )
    devices.set_defaults(command=_devices)


def _devices(args: argparse.Namespace) -> int:
    install = backends.detect_samna()
    if install.kind == "real":
        print(f"samna {install.version} (real) at {install.location}")
    else:
        print(f"samna: {backends.no_real_samna(install)}")
    listed = backends.list_devices()
    width = max(len(d.spec) for d in listed) + 2
    print(f"{'DEVICE':<{width}}{'KIND':<10}DESCRIPTION")
    for device in listed:
        print(f"{device.spec or '-':<{width}}{device.kind:<10}{device.description}")
    for chip in sorted({chip for _, chip in DEVICE_TYPES.values()}):
        print(f"profile {chip}: {load_profile(chip, override=args.profile).budgets_note}")
    return 0
