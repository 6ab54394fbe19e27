"""validate_configuration refuses every limit of the chip, naming the core and the limit,
and program_from_config turns samna's axis order into the program's."""

from dataclasses import replace

import numpy as np
import pytest

from hil.chip.profile import load_profile
from hil.emulator.compile import ConfigurationError, program_from_config
from hil.emulator.samna import speck2e, speck2f
from hil.emulator.samna.speck2f.configuration import SpeckConfiguration


def set_core(cfg, core, c_in, size, c_out, kernel=3, stride=1, padding=0, out_size=None):
    """Configure ``core`` as a square convolution with small random weights."""
    out = out_size or (size + 2 * padding - kernel) // stride + 1
    layer = cfg.cnn_layers[core]
    layer.dimensions = {
        "input_shape": {"size": {"x": size, "y": size}, "feature_count": c_in},
        "output_shape": {"size": {"x": out, "y": out}, "feature_count": c_out},
        "padding": {"x": padding, "y": padding},
        "stride": {"x": stride, "y": stride},
        "kernel_size": kernel,
    }
    layer.weights = np.random.default_rng(core).integers(-5, 6, (c_out, c_in, kernel, kernel))
    layer.biases = [0] * c_out
    layer.neurons_initial_value = np.zeros((c_out, out, out), dtype=int)
    layer.threshold_high = 10
    layer.threshold_low = -10
    return layer


def good_config():
    """Two cores: 2x34x34 -> 4x32x32 -> (pool 2) -> 8x14x14, monitored."""
    cfg = SpeckConfiguration()
    first = set_core(cfg, 0, 2, 34, 4)
    first.destinations = [{"layer": 1, "enable": True, "pooling": 2}]
    second = set_core(cfg, 1, 4, 16, 8)
    second.monitor_enable = True
    return cfg


def test_a_good_config_is_accepted():
    assert speck2f.validate_configuration(good_config()) == (True, "")
    assert speck2e.validate_configuration(good_config()) == (True, "")


def test_program_marks_unused_cores():
    program = program_from_config(good_config(), load_profile("speck2f"))
    assert [core.used for core in program.cores] == [True, True] + [False] * 7
    unused = program.cores[5]
    assert unused.input_shape == unused.output_shape == (0, 0, 0)
    assert unused.weights.size == 0


def test_program_turns_samna_axes_into_numpy_axes():
    cfg = SpeckConfiguration()
    layer = set_core(cfg, 0, 1, 6, 2, kernel=3, out_size=4)
    samna_weights = np.arange(18).reshape(2, 1, 3, 3)  # [out][in][x][y]
    layer.weights = samna_weights
    layer.neurons_initial_value = np.arange(32).reshape(2, 4, 4)  # [f][x][y]
    core = program_from_config(cfg, load_profile("speck2f")).cores[0]
    assert core.weights.dtype == np.int8 and core.initial_states.dtype == np.int16
    assert core.weights[1, 0, 2, 0] == samna_weights[1, 0, 0, 2]  # (out, in, ky, kx)
    assert core.initial_states[1, 3, 0] == 16 + 0 * 4 + 3  # (f, y, x) from [f][x=0][y=3]


def dest_to(core, slot=0):
    def mutate(cfg):
        cfg.cnn_layers[1].destinations[slot].layer = core
        cfg.cnn_layers[1].destinations[slot].enable = True

    return mutate


def on_core0(**fields):
    def mutate(cfg):
        for name, value in fields.items():
            setattr(cfg.cnn_layers[0], name, value)

    return mutate


def reshape_core0(**kwargs):
    def mutate(cfg):
        set_core(cfg, 0, **{"c_in": 2, "size": 34, "c_out": 4, **kwargs})

    return mutate


def dvs(**fields):
    def mutate(cfg):
        for name, value in fields.items():
            setattr(cfg.dvs_layer, name, value)

    return mutate


LIMITS = {
    "input-size": (
        reshape_core0(size=130, stride=2),
        "core 0: input map 130x130 (HxW) exceeds 128",
    ),
    "output-size": (reshape_core0(size=100), "core 0: output map 98x98 (HxW) exceeds 64"),
    "channels": (reshape_core0(c_out=1025), "core 0: 1025 output channels exceed 1024"),
    "kernel-size": (reshape_core0(kernel=17), "core 0: kernel size 17 outside 1..16"),
    "stride": (reshape_core0(stride=3), "core 0: stride.y 3 not one of 1, 2, 4, 8"),
    "padding": (reshape_core0(padding=8), "core 0: padding.y 8 outside 0..7"),
    "inconsistent-output": (
        reshape_core0(out_size=30),
        "core 0: output map 30x30 (HxW) inconsistent",
    ),
    "kernel-memory": (
        reshape_core0(c_out=1024),
        "core 0: kernel memory 32768 words > 16384 available",
    ),
    "neuron-memory": (
        reshape_core0(size=66, c_out=32),
        "core 0: neuron memory 131072 words > 65536 available",
    ),
    "pooling": (
        lambda cfg: setattr(cfg.cnn_layers[0].destinations[0], "pooling", 3),
        "core 0: destination 0 pooling 3 not one of (1, 2, 4)",
    ),
    "threshold-low-zero": (
        on_core0(threshold_low=0),
        "core 0: threshold_low 0 triggers a known chip bug",
    ),
    "weight-int8": (
        on_core0(weights=np.full((4, 2, 3, 3), 128)),
        "core 0: weights hold values 128..128, outside int8 range -128..127",
    ),
    "threshold-int16": (
        on_core0(threshold_high=40000),
        "core 0: threshold_high 40000, outside int16",
    ),
    "bias-int16": (
        on_core0(biases=[0, 0, -40000, 0]),
        "core 0: biases hold values -40000..0, outside int16",
    ),
    "state-int16": (
        on_core0(neurons_initial_value=np.full((4, 32, 32), 32768)),
        "core 0: neurons_initial_value hold values 32768..32768, outside int16",
    ),
    "weights-shape": (
        on_core0(weights=np.zeros((4, 3, 3, 3))),
        "core 0: weights[out][in][x][y] has shape (4, 3, 3, 3); the dimensions need (4, 2, 3, 3)",
    ),
    "non-square-kernel": (
        on_core0(weights=np.zeros((4, 2, 3, 2))),
        "core 0: weights[out][in][x][y] has shape (4, 2, 3, 2)",
    ),
    "decimator": (
        on_core0(output_decimator_enable=True, output_decimator_interval=8),
        "core 0: output_decimator_interval 8 outside 0..7",
    ),
    "destination-unused": (
        dest_to(7),
        "core 1: destination 0 targets core 7, which is not configured",
    ),
    "destination-missing-core": (dest_to(12, slot=1), "core 1: destination 1 targets core 12"),
    "dvs-destination": (
        dvs(destinations=[{"layer": 5, "enable": True}]),
        "dvs layer: destination 0 targets core 5, which is not configured",
    ),
    "dvs-pooling": (dvs(pooling={"x": 1, "y": 3}), "dvs layer: pooling.y 3 not one of"),
    "dvs-cut": (dvs(cut={"x": 128, "y": 127}), "dvs layer: origin.x 0 and cut.x 128"),
}


@pytest.mark.parametrize(("mutate", "expected"), LIMITS.values(), ids=LIMITS.keys())
def test_each_limit_is_refused_naming_core_and_limit(mutate, expected):
    cfg = good_config()
    mutate(cfg)
    ok, message = speck2f.validate_configuration(cfg)
    assert not ok
    assert expected in message


def test_program_from_config_raises_with_every_problem():
    cfg = good_config()
    cfg.cnn_layers[0].threshold_low = 0
    cfg.cnn_layers[1].threshold_high = 40000
    with pytest.raises(ConfigurationError) as error:
        program_from_config(cfg, load_profile("speck2f"))
    assert [p.split(":")[0] for p in error.value.problems] == ["core 0", "core 1"]


def test_the_profile_decides():
    profile = load_profile("speck2f")
    small_kernels = replace(profile, memory=replace(profile.memory, kernel_words=(64,) * 9))
    program_from_config(good_config(), profile)
    with pytest.raises(ConfigurationError, match="core 0: kernel memory 128 words > 64"):
        program_from_config(good_config(), small_kernels)
    with pytest.raises(ConfigurationError, match="configuration has 9 cores"):
        program_from_config(good_config(), replace(profile, n_cores=8))
