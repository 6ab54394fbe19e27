"""What the emulator executes: a chip configuration flattened into plain numpy arrays.

A ``SpeckConfiguration`` (the emulator's own, or a real samna one) is read once, by attribute,
into a ``ChipProgram``; the compiled event loop then only ever sees these arrays. Array axes
follow numpy/torch conventions (``y`` before ``x``), unlike samna's ``weights[out][in][x][y]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_CORES = 9
DVS_LAYER = 13
READOUT_LAYER = 12


@dataclass(frozen=True)
class Destination:
    """Where a core's (or the DVS layer's) output spikes go next."""

    layer: int
    enable: bool = False
    pooling: int = 1
    feature_shift: int = 0


@dataclass
class CoreProgram:
    """One CNN core. Shapes are (channels, height, width)."""

    index: int
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    kernel_size: int
    stride: tuple[int, int]  # (y, x)
    padding: tuple[int, int]  # (y, x)
    weights: np.ndarray  # int8, (c_out, c_in, k, k), axes (out, in, ky, kx)
    biases: np.ndarray  # int16, (c_out,)
    leak_enable: bool
    initial_states: np.ndarray  # int16, output_shape
    threshold_high: int
    threshold_low: int
    return_to_zero: bool
    monitor_enable: bool
    destinations: tuple[Destination, Destination]
    decimator_enable: bool = False
    decimator_interval: int = 0
    input_congestion_balancer_enable: bool = False

    @property
    def used(self) -> bool:
        """A core is in use when it has any input channels and output neurons."""
        return self.input_shape[0] > 0 and int(np.prod(self.output_shape)) > 0


@dataclass
class DvsProgram:
    """The DVS pre-processing layer (layer 13) that sensor events pass through."""

    on_channel: bool = True
    off_channel: bool = True
    merge: bool = False
    pooling: tuple[int, int] = (1, 1)  # (y, x)
    origin: tuple[int, int] = (0, 0)  # (y, x)
    cut: tuple[int, int] = (127, 127)  # (y, x), inclusive bottom-right
    mirror: tuple[bool, bool] = (False, False)  # (y, x)
    mirror_diagonal: bool = False
    pass_sensor_events: bool = False
    monitor_enable: bool = False
    destinations: tuple[Destination, Destination] = (Destination(0), Destination(0))


@dataclass
class ChipProgram:
    """A whole chip: nine cores and the DVS layer."""

    cores: list[CoreProgram]
    dvs: DvsProgram = field(default_factory=DvsProgram)
