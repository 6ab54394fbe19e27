"""samna.speck2e: configuration, events and validation for Speck 2e."""

from hil.emulator.samna.speck2e import configuration, event
from hil.emulator.samna.validation import configuration_validator

validate_configuration = configuration_validator("speck2e")

__all__ = ["configuration", "event", "validate_configuration"]
