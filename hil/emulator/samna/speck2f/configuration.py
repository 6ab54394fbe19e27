"""samna.speck2f.configuration."""

from hil.emulator.samna.configuration import (
    CnnLayerConfig,
    CnnLayerDestination,
    CnnLayerDimensions,
    CnnLayerShape,
    DvsLayerConfig,
    ReadoutConfig,
    SpeckConfigurationBase,
)


class SpeckConfiguration(SpeckConfigurationBase):
    """The configuration of a Speck 2f chip."""


__all__ = [
    "CnnLayerConfig",
    "CnnLayerDestination",
    "CnnLayerDimensions",
    "CnnLayerShape",
    "DvsLayerConfig",
    "ReadoutConfig",
    "SpeckConfiguration",
]
