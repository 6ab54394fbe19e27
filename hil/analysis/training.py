"""The seed's SynOps regulariser, for training a network to stay within each core's budget.

A layer's SynOps are its input spikes times its fan-out, so the loss on an over-budget layer
reaches that layer's own weights only through later layers: its gradient flows into the
layers that produce its input spikes (through their surrogate gradients) and lowers their
firing. The first layer's SynOps depend on the data alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sinabs.hooks import conv_layer_synops_hook, linear_layer_synops_hook
from torch import nn

from hil.chip.profile import ChipProfile

US_PER_S = 1_000_000


def forward_with_synops(
    model: nn.Module, inputs: torch.Tensor, dt_us: float = 1000.0
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``model`` on ``inputs`` (spike counts per time step) and return its output and,
    per Conv2d/Linear layer in module order (sinabs' layer order), its SynOps/s averaged
    over batch and time steps, as differentiable scalars. ``dt_us`` is one time step.

    Counts are spike counts times fan-out (sinabs' connection maps, edges included); an
    average pooling before a layer would scale its input, so use sum pooling, as the chip
    does."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [
        layer.register_forward_hook(
            conv_layer_synops_hook if isinstance(layer, nn.Conv2d) else linear_layer_synops_hook
        )
        for layer in layers
    ]
    try:
        output = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    per_s = US_PER_S / dt_us
    return output, [layer.hook_data["layer_synops_per_timestep"] * per_s for layer in layers]


def synops_limits(profile: ChipProfile, layer2core: dict[int, int]) -> list[float]:
    """The SynOps/s budget of each layer's core, in layer order."""
    return [profile.synops_per_s[layer2core[layer]] for layer in sorted(layer2core)]


def synops_loss(
    synops_per_s: Sequence[torch.Tensor], limits: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Σ relu((SynOps/s − limit) / limit) over layers: zero while every layer is within its
    budget, growing with the relative excess of those that are not."""
    if len(synops_per_s) != len(limits):
        raise ValueError(f"{len(synops_per_s)} layers but {len(limits)} limits")
    rates = torch.stack([torch.as_tensor(rate, dtype=torch.float32) for rate in synops_per_s])
    bounds = torch.as_tensor(limits, dtype=rates.dtype, device=rates.device)
    if (bounds <= 0).any():
        raise ValueError("every SynOps/s limit must be positive")
    return torch.relu((rates - bounds) / bounds).sum()
