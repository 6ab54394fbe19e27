"""samna.speck2e.event: the events shared by the Speck chips."""

from hil.emulator.samna.events import (
    DvsEvent,
    NeuronValue,
    ReadNeuronValue,
    ReadoutValue,
    Spike,
    WriteNeuronValue,
)

__all__ = [
    "DvsEvent",
    "NeuronValue",
    "ReadNeuronValue",
    "ReadoutValue",
    "Spike",
    "WriteNeuronValue",
]
