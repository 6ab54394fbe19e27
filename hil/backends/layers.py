"""Why sinabs refused a network, in one line that names the layer.

sinabs' ``DynapcnnNetwork`` raises its own exceptions (``UnsupportedLayerType`` and others,
over several lines, listing layer objects) or fails inside its tracer (an LSTM). The harness
leaves the decision to sinabs, and only says which layer of the user's network is the cause.
"""

from __future__ import annotations

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


def conversion_error(net: torch.nn.Module, exc: BaseException) -> DeployError:
    """A one-line DeployError for sinabs' refusal ``exc`` of ``net``, naming the layer that
    caused it when the network has a layer of a kind the chip has no counterpart for."""
    for name, module in net.named_modules():
        if next(module.children(), None) is not None:
            continue
        for kinds, advice in _ADVICE:
            if isinstance(module, kinds):
                where = f"layer {name}" if name else "the network"
                return UnsupportedLayer(
                    f"{where} ({type(module).__name__}) is {advice}", layer=_index(name)
                )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DeployError(f"sinabs cannot convert this network: {first}")


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
