"""Whether one layer fits one Speck core: memory words and shape limits.

Pure arithmetic over shapes and a ``ChipProfile``, shared by the emulator's configuration
check and by deployability lints, so that the chip's rules are written down once. Memory is
counted as the chip allocates it: kernel and neuron memory are laid out in power-of-two
blocks, so a layer can need far more words than it has parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.chip.profile import ChipProfile


@dataclass(frozen=True)
class MemoryUse:
    """Words a layer occupies in each of a core's three memories."""

    kernel: int
    neuron: int
    bias: int


@dataclass(frozen=True)
class CoreShape:
    """The geometry of one core's layer. Shapes are (channels, height, width)."""

    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    kernel_size: int
    stride: tuple[int, int] = (1, 1)  # (y, x)
    padding: tuple[int, int] = (0, 0)  # (y, x)
    bias: bool = False

    @property
    def memory(self) -> MemoryUse:
        c_out, out_h, out_w = self.output_shape
        return core_memory(self.input_shape[0], c_out, self.kernel_size, out_h, out_w, self.bias)


def next_power_of_two(n: int) -> int:
    """2^⌈log2 n⌉ for n ≥ 1; 0 for n = 0 (a layer without that dimension needs no memory)."""
    if n < 0:
        raise ValueError(f"a size cannot be negative: {n}")
    return 0 if n == 0 else 1 << (n - 1).bit_length()


def core_memory(
    c_in: int, c_out: int, kernel_size: int, out_h: int, out_w: int, bias: bool
) -> MemoryUse:
    """Memory words a layer needs: kernel c_in·2^(⌈log2 k²⌉+⌈log2 c_out⌉),
    neuron c_out·2^(⌈log2 H_out⌉+⌈log2 W_out⌉), bias c_out when a bias is used."""
    return MemoryUse(
        kernel=c_in * next_power_of_two(kernel_size * kernel_size) * next_power_of_two(c_out),
        neuron=c_out * next_power_of_two(out_h) * next_power_of_two(out_w),
        bias=c_out if bias else 0,
    )


def conv_output_size(in_size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis."""
    return (in_size + 2 * padding - kernel_size) // stride + 1


def check_core(core: int, shape: CoreShape, profile: ChipProfile) -> list[str]:
    """Every reason ``shape`` cannot run on ``core``; empty when it can. Each message starts
    with ``core N:`` and names the limit broken."""
    if not 0 <= core < profile.n_cores:
        return [f"core {core}: no such core (the chip has cores 0..{profile.n_cores - 1})"]
    problems = _shape_problems(shape, profile) + _memory_problems(core, shape, profile)
    return [f"core {core}: {problem}" for problem in problems]


def _shape_problems(shape: CoreShape, profile: ChipProfile) -> list[str]:
    limits = profile.limits
    c_in, in_h, in_w = shape.input_shape
    c_out, out_h, out_w = shape.output_shape
    k = shape.kernel_size
    problems = []
    if max(in_h, in_w) > limits.max_input_size:
        problems.append(f"input map {in_h}x{in_w} (HxW) exceeds {limits.max_input_size} per side")
    if max(out_h, out_w) > limits.max_output_size:
        problems.append(
            f"output map {out_h}x{out_w} (HxW) exceeds {limits.max_output_size} per side"
        )
    for what, channels in (("input", c_in), ("output", c_out)):
        if channels > limits.max_channels:
            problems.append(f"{channels} {what} channels exceed {limits.max_channels}")
    if not 1 <= k <= limits.max_kernel_size:
        problems.append(f"kernel size {k} outside 1..{limits.max_kernel_size}")
    for axis, stride, padding in zip("yx", shape.stride, shape.padding, strict=True):
        if stride not in limits.strides:
            allowed = ", ".join(map(str, limits.strides))
            problems.append(f"stride.{axis} {stride} not one of {allowed}")
        if not 0 <= padding <= limits.max_padding:
            problems.append(f"padding.{axis} {padding} outside 0..{limits.max_padding}")
    if not problems:
        expected = tuple(
            conv_output_size(size, k, stride, padding)
            for size, stride, padding in zip((in_h, in_w), shape.stride, shape.padding, strict=True)
        )
        if (out_h, out_w) != expected:
            problems.append(
                f"output map {out_h}x{out_w} (HxW) inconsistent with input {in_h}x{in_w}, "
                f"kernel {k}, stride {shape.stride}, padding {shape.padding} "
                f"(expected {expected[0]}x{expected[1]})"
            )
    return problems


def _memory_problems(core: int, shape: CoreShape, profile: ChipProfile) -> list[str]:
    use = shape.memory
    available = profile.memory
    return [
        f"{what} memory {needed} words > {table[core]} available"
        for what, needed, table in (
            ("kernel", use.kernel, available.kernel_words),
            ("neuron", use.neuron, available.neuron_words),
            ("bias", use.bias, available.bias_words),
        )
        if needed > table[core]
    ]
