"""Why sinabs refused a network, in one line that names the layer.

sinabs' ``DynapcnnNetwork`` raises its own exceptions (``UnsupportedLayerType`` and others,
over several lines, listing layer objects) or fails inside its tracer (an LSTM). The harness
leaves the decision to sinabs, and only says which layer of the user's network is the cause.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from hil.backends.errors import DeployError
from hil.chip.profile import ChipProfile

#: What to do instead, by kind of layer the chip has no counterpart for.
_ADVICE = (
    (
        (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.ELU, nn.Softmax),
        "a non-spiking activation: convert the network first "
        "(sinabs.from_model, or sinabs.layers.IAFSqueeze in its place)",
    ),
    (
        (nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.MaxPool1d),
        "a pooling the chip cannot do: use nn.AvgPool2d or sinabs.layers.SumPool2d "
        "with a square kernel of 1, 2 or 4",
    ),
    (
        (nn.RNNBase, nn.MultiheadAttention, nn.Embedding),
        "not a layer a Speck core can run (cores run convolutions and linear layers "
        "followed by IAF neurons)",
    ),
)


class UnsupportedLayer(DeployError):
    """A network with a layer of a kind no Speck core has: not a chip network at all (unlike a
    layer that is too large for any core)."""


class InputShapeError(DeployError):
    """An input shape the network was not built for (a 34×34 recording on a network made for
    64×64): bad input, found by running the network on it."""


def conversion_error(
    net: torch.nn.Module, exc: BaseException, input_shape: tuple[int, int, int] | None = None
) -> DeployError:
    """A one-line DeployError for sinabs' refusal ``exc`` of ``net``, naming the layer that
    caused it: a layer of a kind the chip has no counterpart for, else (given
    ``input_shape``) the layer that cannot take that input."""
    for name, module in _leaves(net):
        for kinds, advice in _ADVICE:
            if isinstance(module, kinds):
                return UnsupportedLayer(
                    f"{_where(name)} ({type(module).__name__}) is {advice}", layer=_index(name)
                )
    if input_shape is not None:
        refusal = input_shape_error(net, input_shape)
        if refusal is not None:
            return refusal
    return DeployError(f"sinabs cannot convert this network: {_first_line(exc)}")


def input_shape_error(
    net: torch.nn.Module, input_shape: tuple[int, int, int]
) -> InputShapeError | None:
    """Run ``net`` on zeros of ``input_shape``; when torch fails, the error naming the layer
    it failed in (sinabs would only report a matrix product that failed), else None.

    A copy runs, since a forward pass leaves neuron state behind. Call it with a shape the
    chip takes (``check_input_shape``): a tensor of the shape is built."""
    probe = copy.deepcopy(net)
    entered: list[tuple[str, nn.Module]] = []
    for name, module in _leaves(probe):
        module.register_forward_pre_hook(
            lambda module, args, name=name: entered.append((name, module))
        )
    try:
        with torch.no_grad():
            probe(torch.zeros((1, *input_shape)))
    except RuntimeError as exc:
        name, module = entered[-1] if entered else ("", probe)
        return InputShapeError(
            f"the network does not take input of shape {','.join(map(str, input_shape))} "
            f"(C,H,W): {_where(name)} ({type(module).__name__}) fails on it: "
            f"{_first_line(exc)}; deploy it with the input shape it was built for "
            "(speck-hil: --input-shape C,H,W, or a recording of that sensor size)",
            layer=_index(name),
            limit="input shape",
        )
    return None


def _leaves(net: torch.nn.Module):
    return (
        (name, module)
        for name, module in net.named_modules()
        if next(module.children(), None) is None
    )


def _where(name: str) -> str:
    return f"layer {name}" if name else "the network"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_input_shape(input_shape: tuple[int, ...], profile: ChipProfile) -> None:
    """Refuse an input no chip takes before sinabs builds tensors of that size (a mistyped
    2,20000,20000 would have it allocate tens of GB)."""
    limits = profile.limits
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise DeployError(f"input shape {input_shape}: expected (C, H, W), positive")
    channels, height, width = input_shape
    if max(height, width) > limits.max_input_size or channels > limits.max_channels:
        raise DeployError(
            f"input shape (C, H, W) = {input_shape}: the chip takes at most "
            f"{limits.max_input_size}x{limits.max_input_size} pixels and "
            f"{limits.max_channels} channels",
            limit="input size",
        )


def _index(name: str) -> int | None:
    head = name.split(".")[0]
    return int(head) if head.isdigit() else None
