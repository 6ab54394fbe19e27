"""Memory words and shape limits of one core, checked against hand-computed values."""

from dataclasses import replace

import pytest

from hil.chip.memory import (
    CoreShape,
    MemoryUse,
    check_core,
    conv_output_size,
    core_memory,
    next_power_of_two,
)
from hil.chip.profile import load_profile

SPECK2F = load_profile("speck2f")


@pytest.mark.parametrize(
    ("n", "expected"), [(0, 0), (1, 1), (2, 2), (3, 4), (9, 16), (1024, 1024), (1025, 2048)]
)
def test_next_power_of_two(n, expected):
    assert next_power_of_two(n) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # 2 in, 4 out, 3x3 kernel, 32x32 map: kernel 2*16*4, neuron 4*32*32
        ((2, 4, 3, 32, 32, False), MemoryUse(kernel=128, neuron=4096, bias=0)),
        # a Linear over an 8x14x14 map: kernel 8*256*16, neuron 10*1*1
        ((8, 10, 14, 1, 1, True), MemoryUse(kernel=32768, neuron=10, bias=10)),
        # nothing a power of two: kernel 3*32*8, neuron 5*32*32
        ((3, 5, 5, 30, 20, True), MemoryUse(kernel=768, neuron=5120, bias=5)),
    ],
)
def test_core_memory_by_hand(args, expected):
    assert core_memory(*args) == expected


def test_core_shape_memory_matches_core_memory():
    shape = CoreShape((3, 34, 24), (5, 30, 20), 5, bias=True)
    assert shape.memory == core_memory(3, 5, 5, 30, 20, True)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [(34, 3, 1, 0, 32), (28, 5, 2, 2, 14), (128, 16, 8, 7, 16), (14, 14, 1, 0, 1)],
)
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


def test_a_fitting_layer_has_no_problems():
    assert check_core(0, CoreShape((2, 34, 34), (4, 32, 32), 3), SPECK2F) == []


def test_kernel_memory_names_core_and_limit():
    shape = CoreShape((10, 10, 10), (256, 8, 8), 3)
    assert check_core(3, shape, SPECK2F) == ["core 3: kernel memory 40960 words > 32768 available"]
    assert check_core(5, shape, SPECK2F) == []  # cores 5 and 6 have 64 Ki kernel words


def test_neuron_memory_depends_on_the_core():
    shape = CoreShape((2, 66, 66), (4, 64, 64), 3)  # 4*64*64 = 16384 neuron words
    assert check_core(7, shape, SPECK2F) == []
    wider = CoreShape((2, 66, 66), (5, 64, 64), 3)  # 5*64*64 = 20480
    assert check_core(7, wider, SPECK2F) == ["core 7: neuron memory 20480 words > 16384 available"]


def test_bias_memory_counts_only_when_a_bias_is_used():
    small = replace(SPECK2F, memory=replace(SPECK2F.memory, bias_words=(8,) * 9))
    shape = CoreShape((2, 34, 34), (16, 32, 32), 3)
    assert check_core(0, shape, small) == []
    assert check_core(0, replace(shape, bias=True), small) == [
        "core 0: bias memory 16 words > 8 available"
    ]


def test_every_broken_shape_limit_is_reported():
    shape = CoreShape((1100, 130, 130), (2000, 8, 8), 17, stride=(3, 1), padding=(0, 9))
    problems = check_core(2, shape, SPECK2F)
    for expected in (
        "input map 130x130",
        "1100 input channels exceed 1024",
        "2000 output channels exceed 1024",
        "kernel size 17 outside 1..16",
        "stride.y 3 not one of 1, 2, 4, 8",
        "padding.x 9 outside 0..7",
        "kernel memory",
    ):
        assert any(expected in p for p in problems), (expected, problems)
    assert all(p.startswith("core 2: ") for p in problems)


def test_no_such_core():
    assert check_core(9, CoreShape((1, 1, 1), (1, 1, 1), 1), SPECK2F) == [
        "core 9: no such core (the chip has cores 0..8)"
    ]
