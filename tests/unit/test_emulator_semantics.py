"""Each neuron, routing and DVS-layer rule of the emulator, pinned by a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hil.emulator import Speck
from hil.emulator.handmade import make_core, make_program
from hil.emulator.program import Destination, DvsProgram
from hil.events import SPIKE_DTYPE


def events(*rows: tuple[int, int, int, int, int]) -> np.ndarray:
    """Spikes from (layer, x, y, feature, t) rows."""
    return np.array(list(rows), dtype=SPIKE_DTYPE)


def single_neuron(weight: int, **fields) -> Speck:
    """One core: one input, one neuron, a 1x1 kernel of ``weight``."""
    core = make_core(0, (1, 1, 1), np.full((1, 1, 1, 1), weight), **fields)
    return Speck(make_program(core), timing=False)


def state(chip: Speck) -> int:
    return int(chip.neuron_states(0)[0, 0, 0])


def rows(out: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    return [tuple(int(v) for v in row) for row in out.tolist()]


def test_one_spike_per_event_even_far_above_threshold():
    chip = single_neuron(100, threshold_high=10)
    out = chip.run(events((0, 0, 0, 0, 5), (0, 0, 0, 0, 7)))
    assert rows(out) == [(0, 0, 0, 0, 5), (0, 0, 0, 0, 7)]
    assert state(chip) == 180  # 100 - 10, then + 100 - 10


@pytest.mark.parametrize(("return_to_zero", "residue"), [(False, 5), (True, 0)])
def test_reset_subtracts_or_zeroes(return_to_zero, residue):
    chip = single_neuron(15, threshold_high=10, return_to_zero=return_to_zero)
    assert len(chip.run(events((0, 0, 0, 0, 0)))) == 1
    assert state(chip) == residue


def test_state_never_below_threshold_low():
    chip = single_neuron(-50, threshold_high=10, threshold_low=-20)
    chip.run(events((0, 0, 0, 0, 0)))
    assert state(chip) == -20


def test_state_saturates_at_int16_limits():
    top = single_neuron(
        100, threshold_high=32767, initial_states=np.full((1, 1, 1), 32700, np.int16)
    )
    assert len(top.run(events((0, 0, 0, 0, 0)))) == 1  # wrapping would give -32736, no spike
    assert state(top) == 0
    bottom = single_neuron(
        -100, threshold_low=-32768, initial_states=np.full((1, 1, 1), -32700, np.int16)
    )
    bottom.run(events((0, 0, 0, 0, 0)))
    assert state(bottom) == -32768


def test_leak_adds_bias_per_tick_and_never_fires_alone():
    chip = single_neuron(
        0, threshold_high=10, leak_enable=True, biases=np.array([3], np.int16)
    )  # default slow clock 1 kHz: a tick every 1000 µs
    assert len(chip.run(events(), until=5500)) == 0
    assert state(chip) == 15
    out = chip.run(events((0, 0, 0, 0, 5500)))  # weight 0: the leak charge alone fires it
    assert rows(out) == [(0, 0, 0, 0, 5500)]
    assert state(chip) == 5
    chip.set_slow_clk_rate(100.0)  # from 5500 µs on, a tick every 10 ms
    chip.run(events(), until=25_500)
    assert state(chip) == 11


def test_negative_leak_stops_at_threshold_low():
    chip = single_neuron(0, threshold_low=-7, leak_enable=True, biases=np.array([-2], np.int16))
    chip.run(events(), until=2000)
    assert state(chip) == -4
    chip.run(events(), until=10_000)
    assert state(chip) == -7


@pytest.mark.parametrize("code", range(8))
def test_decimator_passes_every_nth_spike(code):
    n = (2, 4, 8, 16, 32, 128, 256, 512)[code]
    chip = single_neuron(1, decimator_enable=True, decimator_interval=code)
    inputs = np.zeros(3 * n + 1, SPIKE_DTYPE)
    inputs["t"] = np.arange(len(inputs))
    out = chip.run(inputs)
    assert out["t"].tolist() == [n - 1, 2 * n - 1, 3 * n - 1]


def relay(index: int, input_shape: tuple[int, int, int], **fields):
    """A core that spikes once per input, at the same coordinates (identity 1x1 kernel)."""
    channels = input_shape[0]
    return make_core(
        index, input_shape, np.eye(channels).reshape(channels, channels, 1, 1), **fields
    )


def test_pooling_feature_shift_and_two_destinations():
    source = relay(
        0,
        (2, 4, 4),
        destinations=(Destination(1, True, pooling=2), Destination(2, True, feature_shift=3)),
    )
    chip = Speck(make_program(source, relay(1, (2, 2, 2)), relay(2, (5, 4, 4))), timing=False)
    out = chip.run(events((0, 3, 2, 1, 9)))
    # core 0's spike, then destination 0 (pooled to x=1, y=1), then destination 1 (shifted).
    assert rows(out) == [(0, 3, 2, 1, 9), (1, 1, 1, 1, 9), (2, 3, 2, 4, 9)]


def test_spikes_emitted_in_y_x_feature_order_and_routed_depth_first():
    source = make_core(
        0,
        (1, 3, 3),
        np.ones((2, 1, 2, 2)),
        destinations=(Destination(1, True),),
        monitor_enable=True,
    )
    chip = Speck(make_program(source, relay(1, (2, 2, 2))), timing=False)
    out = chip.run(events((0, 1, 1, 0, 0)))
    expected = []
    for y in range(2):
        for x in range(2):
            for f in range(2):
                expected += [(0, x, y, f, 0), (1, x, y, f, 0)]
    assert rows(out) == expected


def test_states_match_cross_correlation_with_stride_and_padding():
    rng = np.random.default_rng(1)
    weights = rng.integers(-5, 6, size=(3, 2, 3, 3))
    core = make_core(
        0, (2, 5, 6), weights, stride=2, padding=1, threshold_high=1000, threshold_low=-1000
    )
    chip = Speck(make_program(core), timing=False)
    chip.run(events((0, 4, 3, 1, 0)))
    frame = torch.zeros(1, 2, 5, 6)
    frame[0, 1, 3, 4] = 1.0
    expected = torch.nn.functional.conv2d(
        frame, torch.tensor(weights, dtype=torch.float32), stride=2, padding=1
    )[0]
    assert chip.neuron_states(0).dtype == np.int16
    np.testing.assert_array_equal(chip.neuron_states(0), expected.numpy().astype(np.int16))


def test_reset_restores_initial_states_time_and_decimator():
    initial = np.full((1, 1, 1), 4, np.int16)
    chip = single_neuron(
        3, threshold_high=10, initial_states=initial, decimator_enable=True, decimator_interval=0
    )
    assert len(chip.run(events((0, 0, 0, 0, 100), (0, 0, 0, 0, 200)))) == 0  # 1st spike held
    chip.reset()
    assert state(chip) == 4
    assert chip.now_us == 0
    inputs = np.zeros(7, SPIKE_DTYPE)
    inputs["t"] = np.arange(7)
    # v: 7, 10 (spike, held), 3, 6, 9, 12 (spike, passes): a counter left at 1 would pass t=1.
    assert chip.run(inputs)["t"].tolist() == [5]


def test_timing_false_stamps_the_causing_input_time():
    chip = Speck(
        make_program(
            relay(0, (1, 2, 2), destinations=(Destination(1, True),)), relay(1, (1, 2, 2))
        ),
        timing=False,
    )
    out = chip.run(events((0, 0, 0, 0, 17), (0, 1, 1, 0, 40)))
    assert out["t"].tolist() == [17, 17, 40, 40]


def dvs_chip(**dvs_fields) -> Speck:
    """The DVS layer feeding a relay core on a 4x4 map, monitored on both."""
    dvs = DvsProgram(monitor_enable=True, destinations=(Destination(0, True), Destination(0)))
    for name, value in dvs_fields.items():
        dvs = DvsProgram(**{**dvs.__dict__, name: value})
    return Speck(make_program(relay(0, (2, 4, 4)), dvs=dvs), timing=False)


def core_inputs(out: np.ndarray) -> list[tuple[int, int, int]]:
    """(x, y, feature) of what reached core 0."""
    return [(int(e["x"]), int(e["y"]), int(e["feature"])) for e in out[out["layer"] == 0]]


def test_dvs_pooling_roi_and_shift_by_origin():
    chip = dvs_chip(pooling=(2, 4), origin=(1, 2), cut=(4, 5))
    out = chip.run(
        events(
            (13, 9, 3, 1, 0),  # pooled (x=2, y=1): inside, shifted to (0, 0)
            (13, 23, 9, 0, 1),  # pooled (5, 4): the inclusive corner, shifted to (3, 3)
            (13, 7, 3, 1, 2),  # pooled x=1 < origin x=2: dropped
            (13, 24, 3, 1, 3),  # pooled x=6 > cut x=5: dropped
        )
    )
    assert core_inputs(out) == [(0, 0, 1), (3, 3, 0)]
    monitored = out[out["layer"] == 13]
    assert monitored["x"].tolist() == [9, 23, 7, 24]  # the monitor sees events before pooling


def test_dvs_merge_and_polarity_select():
    merged = dvs_chip(merge=True, cut=(3, 3))
    assert core_inputs(merged.run(events((13, 1, 2, 1, 0), (13, 1, 2, 0, 1)))) == [
        (1, 2, 0),
        (1, 2, 0),
    ]
    on_only = dvs_chip(off_channel=False, cut=(3, 3))
    assert core_inputs(on_only.run(events((13, 1, 2, 1, 0), (13, 1, 2, 0, 1)))) == [(1, 2, 1)]


@pytest.mark.parametrize(
    ("mirror", "diagonal", "expected"),
    [
        ((False, False), False, (1, 0, 0)),
        ((False, True), False, (2, 0, 0)),
        ((True, False), False, (1, 3, 0)),
        ((False, False), True, (0, 1, 0)),
        ((True, True), True, (3, 2, 0)),
    ],
)
def test_dvs_mirror_within_roi_then_diagonal(mirror, diagonal, expected):
    chip = dvs_chip(origin=(2, 2), cut=(5, 5), mirror=mirror, mirror_diagonal=diagonal)
    assert core_inputs(chip.run(events((13, 3, 2, 0, 0)))) == [expected]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((3, 0, 0, 0, 0), r"spikes\[1\]\.layer = 3"),
        ((0, 2, 0, 0, 0), r"spikes\[1\]\.x = 2"),
        ((0, 0, 0, 1, 0), r"spikes\[1\]\.feature = 1"),
        ((13, 0, 128, 0, 0), r"spikes\[1\]\.y = 128"),
    ],
)
def test_invalid_inputs_name_index_and_field(row, message):
    chip = Speck(make_program(relay(0, (1, 2, 2))))
    with pytest.raises(ValueError, match=message):
        chip.run(events((0, 0, 0, 0, 0), row))


def test_decreasing_time_is_rejected():
    chip = Speck(make_program(relay(0, (1, 2, 2))))
    with pytest.raises(ValueError, match=r"spikes\[2\]\.t = 3 < spikes\[1\]\.t = 5"):
        chip.run(events((0, 0, 0, 0, 1), (0, 0, 0, 0, 5), (0, 0, 0, 0, 3)))
    chip.run(events((0, 0, 0, 0, 10)))
    with pytest.raises(ValueError, match="before the chip time"):
        chip.run(events((0, 0, 0, 0, 9)))


def test_destination_to_an_unused_core_is_rejected():
    with pytest.raises(ValueError, match="unused core 4"):
        Speck(make_program(relay(0, (1, 2, 2), destinations=(Destination(4, True),))))
