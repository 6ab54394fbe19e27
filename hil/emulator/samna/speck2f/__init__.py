"""samna.speck2f: configuration, events and validation for Speck 2f."""

from hil.emulator.samna.speck2f import configuration, event
from hil.emulator.samna.validation import configuration_validator

validate_configuration = configuration_validator("speck2f")

__all__ = ["configuration", "event", "validate_configuration"]
