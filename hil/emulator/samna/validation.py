"""samna's ``validate_configuration`` for one chip, backed by the emulator's compiler."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hil.chip.profile import ChipProfile, load_profile
from hil.emulator.compile import ConfigurationError, program_from_config


@cache
def _shipped_profile(name: str) -> ChipProfile:
    return load_profile(name)


def configuration_validator(profile_name: str) -> Callable[[Any], tuple[bool, str]]:
    """samna's ``validate_configuration(cfg) -> (ok, message)`` against a shipped profile."""

    def validate_configuration(configuration: Any) -> tuple[bool, str]:
        """Whether the chip can run ``configuration``; the message lists every problem."""
        try:
            program_from_config(configuration, _shipped_profile(profile_name))
        except ConfigurationError as error:
            return False, str(error)
        return True, ""

    return validate_configuration
