"""Build ``ChipProgram``s by hand, for tests and experiments that bypass a configuration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hil.emulator.program import ChipProgram, CoreProgram, Destination, DvsProgram


def make_core(
    index: int,
    input_shape: tuple[int, int, int],
    weights: np.ndarray,
    *,
    stride: int = 1,
    padding: int = 0,
    threshold_high: int = 1,
    threshold_low: int = -1,
    return_to_zero: bool = False,
    monitor_enable: bool = True,
    destinations: tuple[Destination, ...] = (),
    **fields: object,
) -> CoreProgram:
    """A core with its output shape derived from the convolution it performs.

    ``weights`` is (c_out, c_in, k, k); zero biases and states unless given in ``fields``.
    """
    weights = np.asarray(weights, np.int8)
    c_out, _, k, _ = weights.shape
    _, h, w = input_shape
    output_shape = (c_out, (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1)
    routes = (*destinations, Destination(0), Destination(0))[:2]
    core = CoreProgram(
        index=index,
        input_shape=tuple(input_shape),
        output_shape=output_shape,
        kernel_size=k,
        stride=(stride, stride),
        padding=(padding, padding),
        weights=weights,
        biases=np.zeros(c_out, np.int16),
        leak_enable=False,
        initial_states=np.zeros(output_shape, np.int16),
        threshold_high=threshold_high,
        threshold_low=threshold_low,
        return_to_zero=return_to_zero,
        monitor_enable=monitor_enable,
        destinations=routes,
    )
    return replace(core, **fields)


def make_program(*cores: CoreProgram, dvs: DvsProgram | None = None) -> ChipProgram:
    """A chip running ``cores``; the DVS layer is idle unless ``dvs`` is given."""
    return ChipProgram(cores=list(cores), dvs=dvs if dvs is not None else DvsProgram())
