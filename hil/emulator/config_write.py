"""How long an emulated board takes to write a configuration.

samna's ``apply_configuration`` returns before the configuration is on the chip: sinabs sleeps
1 s after it ("wait for the config to be written"), rockpool's Xylo code waits for a register
read's reply. The emulated board does the same: the configuration takes effect
``config_write_us + config_write_us_per_word * values`` of wall time after the call (the
profile's ``[devkit]``; values are the weights, biases and initial neuron values it writes),
and events written meanwhile meet the old configuration. A read (``ReadNeuronValue``) is
answered only once the write is done, so a host that waits for its reply before starting the
stop watch meets the new configuration, whatever the write time.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import sleep
from typing import Any

from hil.chip.profile import DevkitModel
from hil.emulator import wall_time
from hil.emulator.program import ChipProgram


def configuration_values(program: ChipProgram) -> int:
    """How many values a configuration writes: weights, biases and initial neuron values of
    the cores it uses."""
    return sum(
        core.weights.size + core.biases.size + core.initial_states.size
        for core in program.cores
        if core.used
    )


def write_time_s(program: ChipProgram, model: DevkitModel) -> float:
    """Wall time the board takes to write ``program``'s configuration."""
    values = configuration_values(program)
    return (model.config_write_us + model.config_write_us_per_word * values) / 1e6


@dataclass
class PendingWrite:
    """A configuration being written: the chip it makes, and when it is written (the
    emulator's wall clock, ``wall_time.monotonic``, s)."""

    chip: Any
    readout: bool
    done_at: float

    @classmethod
    def started(cls, chip: Any, readout: bool, seconds: float) -> PendingWrite:
        return cls(chip, readout, wall_time.monotonic() + seconds)

    @property
    def written(self) -> bool:
        return wall_time.monotonic() >= self.done_at

    def wait(self) -> None:
        """Until the write is done: the board's own work, as a read's reply waits for it."""
        remaining = self.done_at - wall_time.monotonic()
        if remaining > 0:
            sleep(remaining)
