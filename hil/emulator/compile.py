"""Turn a chip configuration into the ``ChipProgram`` the emulator runs.

The configuration is read by attribute only, so the emulator's own ``SpeckConfiguration`` and
a real samna one are handled alike. Anything the chip cannot run is refused with every problem
found, each naming the core and the limit: this one check serves both samna's
``validate_configuration`` and the emulated device's ``apply_configuration``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hil.chip.memory import CoreShape, check_core
from hil.chip.profile import ChipProfile
from hil.emulator.program import ChipProgram, CoreProgram, Destination, DvsProgram


class ConfigurationError(ValueError):
    """A configuration the chip cannot run; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def program_from_config(config: Any, profile: ChipProfile) -> ChipProgram:
    """Read ``config`` into a ``ChipProgram``; raise ``ConfigurationError`` if the chip
    described by ``profile`` cannot run it. Cores without channels or weights come back
    unused, with zero shapes."""
    layers = list(config.cnn_layers)
    if len(layers) != profile.n_cores:
        raise ConfigurationError(
            [f"configuration has {len(layers)} cores; {profile.name} has {profile.n_cores}"]
        )
    cores = [_read_core(index, layer) for index, layer in enumerate(layers)]
    dvs = _read_dvs(config.dvs_layer)
    used = {core.index for core in cores if core.used}
    problems = [
        problem for core in cores if core.used for problem in _core_problems(core, used, profile)
    ]
    problems += _dvs_problems(dvs, used, profile)
    if problems:
        raise ConfigurationError(problems)
    return ChipProgram(cores=[_narrowed(core) for core in cores], dvs=dvs)


def _read_core(index: int, layer: Any) -> CoreProgram:
    dims = layer.dimensions
    input_shape = _shape(dims.input_shape)
    output_shape = _shape(dims.output_shape)
    # samna orders weights [out][in][x][y] and states [feature][x][y]; the program puts y first.
    weights = _array(layer.weights, 4, "weights", index).transpose(0, 1, 3, 2)
    used = min(input_shape) > 0 and min(output_shape) > 0 and weights.size > 0
    if not used:
        input_shape = output_shape = (0, 0, 0)
        weights = np.zeros((0, 0, 0, 0), dtype=np.int64)
    c_out = output_shape[0]
    biases = _array(layer.biases, 1, "biases", index)
    states = _array(layer.neurons_initial_value, 3, "neurons_initial_value", index)
    return CoreProgram(
        index=index,
        input_shape=input_shape,
        output_shape=output_shape,
        kernel_size=int(dims.kernel_size),
        stride=(int(dims.stride.y), int(dims.stride.x)),
        padding=(int(dims.padding.y), int(dims.padding.x)),
        weights=weights,
        biases=biases if biases.size and used else np.zeros(c_out, dtype=np.int64),
        leak_enable=bool(layer.leak_enable),
        initial_states=(
            states.transpose(0, 2, 1)
            if states.size and used
            else np.zeros(output_shape, dtype=np.int64)
        ),
        threshold_high=int(layer.threshold_high),
        threshold_low=int(layer.threshold_low),
        return_to_zero=bool(layer.return_to_zero),
        monitor_enable=bool(layer.monitor_enable),
        destinations=tuple(_destination(d) for d in layer.destinations),
        decimator_enable=bool(getattr(layer, "output_decimator_enable", False)),
        decimator_interval=int(getattr(layer, "output_decimator_interval", 0)),
        input_congestion_balancer_enable=bool(
            getattr(layer, "input_congestion_balancer_enable", False)
        ),
    )


def _read_dvs(dvs: Any) -> DvsProgram:
    return DvsProgram(
        on_channel=bool(dvs.on_channel),
        off_channel=bool(dvs.off_channel),
        merge=bool(dvs.merge),
        pooling=(int(dvs.pooling.y), int(dvs.pooling.x)),
        origin=(int(dvs.origin.y), int(dvs.origin.x)),
        cut=(int(dvs.cut.y), int(dvs.cut.x)),
        mirror=(bool(dvs.mirror.y), bool(dvs.mirror.x)),
        mirror_diagonal=bool(dvs.mirror_diagonal),
        pass_sensor_events=bool(dvs.pass_sensor_events),
        monitor_enable=bool(dvs.monitor_enable),
        destinations=tuple(_destination(d) for d in dvs.destinations),
    )


def _shape(shape: Any) -> tuple[int, int, int]:
    return int(shape.feature_count), int(shape.size.y), int(shape.size.x)


def _destination(destination: Any) -> Destination:
    return Destination(
        layer=int(destination.layer),
        enable=bool(destination.enable),
        pooling=int(getattr(destination, "pooling", 1)),
        feature_shift=int(getattr(destination, "feature_shift", 0)),
    )


def _array(value: Any, ndim: int, what: str, index: int) -> np.ndarray:
    """Nested lists as an int64 array; an empty value is an empty array of ``ndim`` dims."""
    try:
        array = np.asarray(value, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        raise ConfigurationError(
            [f"core {index}: {what} is not a rectangular array of integers"]
        ) from None
    if array.size == 0:
        return np.zeros((0,) * ndim, dtype=np.int64)
    if array.ndim != ndim:
        raise ConfigurationError(
            [f"core {index}: {what} has {array.ndim} dimensions; samna's layout has {ndim}"]
        )
    return array


def _core_problems(core: CoreProgram, used: set[int], profile: ChipProfile) -> list[str]:
    shape = CoreShape(
        core.input_shape,
        core.output_shape,
        core.kernel_size,
        core.stride,
        core.padding,
        bias=core.leak_enable,
    )
    problems = check_core(core.index, shape, profile)
    prefix = f"core {core.index}: "
    c_in = core.input_shape[0]
    c_out, out_h, out_w = core.output_shape
    k = core.kernel_size
    # Shapes are reported in samna's axis order, the one the user wrote.
    for what, array, needed in (
        ("weights[out][in][x][y]", core.weights, (c_out, c_in, k, k)),
        ("biases", core.biases, (c_out,)),
        ("neurons_initial_value[f][x][y]", core.initial_states, (c_out, out_h, out_w)),
    ):
        if array.shape != needed:
            problems.append(
                f"{prefix}{what} has shape {_samna_order(array.shape)}; "
                f"the dimensions need {_samna_order(needed)}"
            )
    weights, states = profile.limits.weight_range, profile.limits.state_range
    problems += [
        f"{prefix}{problem}"
        for problem in (
            _range_problem("weights", core.weights, weights),
            _range_problem("biases", core.biases, states),
            _range_problem("neurons_initial_value", core.initial_states, states),
            _range_problem("threshold_high", core.threshold_high, states),
            _range_problem("threshold_low", core.threshold_low, states),
        )
        if problem
    ]
    if core.threshold_low == 0:
        problems.append(f"{prefix}threshold_low 0 triggers a known chip bug; use -1 or lower")
    n_codes = len(profile.decimator_intervals)
    if core.decimator_enable and not 0 <= core.decimator_interval < n_codes:
        problems.append(
            f"{prefix}output_decimator_interval {core.decimator_interval} outside 0..{n_codes - 1}"
        )
    problems += _destination_problems(prefix, core.destinations, used, profile)
    return problems


def _dvs_problems(dvs: DvsProgram, used: set[int], profile: ChipProfile) -> list[str]:
    prefix = "dvs layer: "
    problems = []
    for axis, pooling in zip("yx", dvs.pooling, strict=True):
        if pooling not in profile.limits.poolings:
            problems.append(
                f"{prefix}pooling.{axis} {pooling} not one of {profile.limits.poolings}"
            )
    last = profile.limits.max_input_size - 1
    for axis, origin, cut in zip("yx", dvs.origin, dvs.cut, strict=True):
        if not 0 <= origin <= cut <= last:
            problems.append(
                f"{prefix}origin.{axis} {origin} and cut.{axis} {cut} must satisfy "
                f"0 <= origin <= cut <= {last}"
            )
    return problems + _destination_problems(prefix, dvs.destinations, used, profile)


def _destination_problems(
    prefix: str, destinations: tuple[Destination, ...], used: set[int], profile: ChipProfile
) -> list[str]:
    problems = []
    for slot, destination in enumerate(destinations):
        if not destination.enable:
            continue
        if destination.layer not in used:
            problems.append(
                f"{prefix}destination {slot} targets core {destination.layer}, "
                "which is not configured"
            )
        if destination.pooling not in profile.limits.poolings:
            problems.append(
                f"{prefix}destination {slot} pooling {destination.pooling} "
                f"not one of {profile.limits.poolings}"
            )
    return problems


def _range_problem(what: str, value: np.ndarray | int, limits: tuple[int, int]) -> str | None:
    low, high = limits
    bits = (high - low + 1).bit_length() - 1
    array = np.asarray(value)
    if array.size == 0 or (array.min() >= low and array.max() <= high):
        return None
    found = f"hold values {array.min()}..{array.max()}" if array.ndim else str(int(array))
    return f"{what} {found}, outside int{bits} range {low}..{high}"


def _samna_order(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A program shape (y before x) in samna's order (x before y)."""
    return (*shape[:-2], shape[-1], shape[-2]) if len(shape) >= 3 else tuple(shape)


def _narrowed(core: CoreProgram) -> CoreProgram:
    return replace(
        core,
        weights=core.weights.astype(np.int8),
        biases=core.biases.astype(np.int16),
        initial_states=core.initial_states.astype(np.int16),
    )
