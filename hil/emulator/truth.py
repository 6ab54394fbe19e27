"""What an emulated chip *is*: its physics come from ``HIL_SIM_PROFILE``, not from the lab.

A lab's ``--profile`` says what the harness believes about a chip (budgets, limits). On a real
devkit the chip's truth is unknown and only measurable; on the emulated devkit it is chosen
here, apart from the belief, so that tests can hide a truth from the code that must find it
(calibration, the stall check on a noisy chip). ``HIL_SIM_PROFILE`` is a shipped profile name
(``noisy``) or a TOML file of the same layout; either is merged over the shipped profile of the
board's chip. Unset, the board emulates its chip's shipped profile.
"""

from __future__ import annotations

import os
from pathlib import Path

from hil.chip.devices import DEVICE_TYPES
from hil.chip.profile import (
    PROFILE_DIR,
    ChipProfile,
    ProfileError,
    available_profiles,
    load_profile,
)

SIM_PROFILE_ENV = "HIL_SIM_PROFILE"


def emulated_profile(chip: str) -> ChipProfile:
    """The physics an emulated ``chip`` (a shipped profile name, "speck2f") has in this process.

    Raises ``ProfileError`` with one line naming ``HIL_SIM_PROFILE`` and what is wrong with it.
    """
    value = os.environ.get(SIM_PROFILE_ENV, "").strip()
    if not value:
        return load_profile(chip)
    try:
        return load_profile(chip, override=_overlay(value))
    except ProfileError as exc:
        raise ProfileError(f"{SIM_PROFILE_ENV}={value}: {exc}") from None


def check_sim_profile() -> None:
    """Refuse a bad ``HIL_SIM_PROFILE`` before any work: it must merge over every chip's
    shipped profile (``ProfileError``, a ValueError, names the variable)."""
    for chip in sorted({chip for _, chip in DEVICE_TYPES.values()}):
        emulated_profile(chip)


def _overlay(value: str) -> Path:
    if value.endswith(".toml") or os.sep in value or "/" in value:
        return Path(value)
    shipped = PROFILE_DIR / f"{value}.toml"
    if not shipped.is_file():
        raise ProfileError(
            f"no shipped profile {value!r} (shipped: {', '.join(available_profiles())}); "
            "give a profile name or a .toml file"
        )
    return shipped
