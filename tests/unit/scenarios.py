"""Seeded scenarios for judging the detectors: a network, an input, a chip's truth, a belief.

``draw(seed)`` gives one scenario from seeded random draws (``numpy.random.default_rng``):

- networks: 2–6 layers, 32–128 px inputs, kernels 1–7, strides 1–2, sum pooling, a decimator
  now and then; hand-built sinabs layers or an ANN converted with ``sinabs.from_model``;
- inputs: sparse, dense, bursts, long silences, slow rate ramps;
- truths: per-core budgets with room, or an overload of one core (1.05–3× for 5 ms up to the
  whole run); on the noisy chip, loss, jitter and misaddressing from 0 to twice the shipped
  ``noisy`` profile; the believed budgets ±30 % off the truth.

Ground truth comes from the chip's queues, not from the detectors: ``true_delays`` pairs
each neuron's k-th spike on the deterministic chip at the truth's budgets with its k-th on
the ideal chip (the same spikes in the same order: only the queues move them), and
``true_demand`` is what each core is asked per 10 ms period, counted by the ideal chip.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import sinabs
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset, MembraneSubtract
from torch import nn

from hil.analysis.delay import ideal_chip
from hil.backends.base import Run
from hil.chip.profile import PROFILE_DIR, ChipProfile, NoiseModel, load_profile
from hil.emulator.speck import Speck
from hil.events import EVENT_DTYPE

DEMAND_WINDOW_US = 10_000
MAX_OUTPUTS = 150_000  # a draw whose ideal chip fires more is redrawn (it costs, not tests)
NOISE_FIELDS = ("input_loss", "spike_loss", "spurious_spikes", "jitter_us", "misaddressed_spikes")


@dataclass
class Scenario:
    seed: int
    name: str
    net: nn.Module
    input_shape: tuple[int, int, int]
    events: np.ndarray
    reset: str  # how the network's neurons were made
    decimators: dict[int, int]
    overload: tuple[int, float, int, int] | None  # layer, factor, start µs, end µs
    noise_scale: float  # of the shipped noisy profile, on the noisy chip
    belief_error: float  # believed budgets = truth × (1 + this)


def noisy_profile() -> ChipProfile:
    return load_profile("speck2f", override=PROFILE_DIR / "noisy.toml")


def hand_wave(n: int = 63_000, duration_us: int = 1_500_000, size: int = 128, seed: int = 0):
    """A hand waving in front of a DVS: a ring of events whose centre swings left and right
    three times and bobs up and down, polarity by the side of the ring that leads."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration_us, n))
    phase = 2 * np.pi * t / (duration_us / 3)
    cx = size / 2 + 0.27 * size * np.sin(phase)
    cy = size / 2 + 0.08 * size * np.cos(2 * phase)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 0.14 * size + rng.normal(0, 2, n)
    events = np.empty(n, EVENT_DTYPE)
    events["t"] = t
    events["x"] = np.clip(cx + radius * np.cos(angle), 0, size - 1).astype(int)
    events["y"] = np.clip(cy + 1.4 * radius * np.sin(angle), 0, size - 1).astype(int)
    events["p"] = np.cos(angle) * np.cos(phase) > 0
    return events


def converted_net(scale: float = 1.0, seed: int = 0, size: int = 128) -> nn.Module:
    """A 4-layer ANN for a 2×size×size DVS (Conv-ReLU ×2, AvgPool, Conv-ReLU, Linear),
    converted by ``sinabs.from_model``; ``scale`` multiplies every weight."""
    torch.manual_seed(seed)
    side = size // 8
    ann = nn.Sequential(
        nn.Conv2d(2, 8, 5, stride=2, padding=2, bias=False),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * side * side, 10, bias=False),
    )
    with torch.no_grad():
        for module in ann:
            if hasattr(module, "weight"):
                module.weight.mul_(scale)
    converted = sinabs.from_model(
        ann, input_shape=(2, size, size), batch_size=1, add_spiking_output=True, min_v_mem=-1.0
    )
    return converted.spiking_model


def conv_stack(
    kernels, strides, channels, pools=(), scale=1.0, seed=0, reset="subtract", low=-0.3
) -> nn.Sequential:
    """Hand-built sinabs layers: Conv2d → IAFSqueeze per layer (SumPool2d after the layers in
    ``pools``), weights uniform in [low, low + 0.6) × scale from a private generator."""
    generator = torch.Generator().manual_seed(seed)
    reset_fn = MembraneReset() if reset == "zero" else MembraneSubtract()
    modules: list[nn.Module] = []
    for index, (kernel, stride) in enumerate(zip(kernels, strides, strict=True)):
        conv = nn.Conv2d(
            channels[index], channels[index + 1], kernel, stride, (kernel - 1) // 2, bias=False
        )
        with torch.no_grad():
            draw = torch.rand(conv.weight.shape, generator=generator)
            conv.weight.copy_((draw * 0.6 + low) * scale)
        modules += [conv, sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, reset_fn=reset_fn)]
        if index in pools:
            modules.append(sl.SumPool2d(2))
    return nn.Sequential(*modules)


def six_layer_net(scale: float = 1.6, seed: int = 0) -> nn.Sequential:
    """Six 3×3 layers for a 128×128 DVS, strides 2,1,2,1,2,1, channels 8-8-16-16-16-10."""
    return conv_stack(
        [3] * 6, [2, 1, 2, 1, 2, 1], [2, 8, 8, 16, 16, 16, 10], scale=scale, seed=seed
    )


def noiseless(profile: ChipProfile) -> ChipProfile:
    return dataclasses.replace(profile, noise=NoiseModel())


def with_budgets(profile: ChipProfile, budgets) -> ChipProfile:
    return dataclasses.replace(profile, synops_per_s=tuple(float(b) for b in budgets))


def scaled_noise(profile: ChipProfile, scale: float, seed: int) -> ChipProfile:
    """``profile`` with the noisy profile's noise times ``scale`` (misaddressing capped at 1)."""
    shipped = noisy_profile().noise
    values = {name: getattr(shipped, name) * scale for name in NOISE_FIELDS}
    values["misaddressed_spikes"] = min(values["misaddressed_spikes"], 1.0)
    noise = dataclasses.replace(shipped, seed=seed, **values)
    return dataclasses.replace(profile, noise=noise)


def replay(deployment, inputs: np.ndarray, truth: ChipProfile, seed: int = 0) -> Run:
    """One replay of chip ``inputs`` on an emulated chip that is ``truth``."""
    outputs = Speck(deployment.mapping.config, truth, seed=seed).run(inputs)
    return Run(inputs, outputs, deployment, 0.0, 0.0, source="scenario")


def true_delays(deployment, inputs: np.ndarray, budgets) -> dict[int, tuple[float, float]]:
    """Per core: the peak (running median over 32 spikes, in cause order) of its outputs'
    queueing delay, and when the last output left after the last input, on the
    deterministic chip at ``budgets``."""
    config, profile = deployment.mapping.config, deployment.device.profile
    timed = Speck(config, with_budgets(noiseless(profile), budgets)).run(inputs)
    ideal = ideal_chip(config, profile).run(inputs)
    truth = {}
    for core in np.unique(ideal["layer"]):
        device, reference = timed[timed["layer"] == core], ideal[ideal["layer"] == core]
        delay = _kth_spike_delays(device, reference)
        peak = float(np.max(_running_median(delay, 32))) if len(delay) else 0.0
        drain = float(max(0, int(device["t"].max()) - int(inputs["t"][-1]))) if len(device) else 0
        truth[int(core)] = (peak, drain)
    return truth


def true_demand(deployment, inputs: np.ndarray, chip: Speck | None = None) -> dict[int, float]:
    """Per core: the most SynOps/s it is asked for in any 10 ms (sliding in 1 ms steps) by
    ``inputs`` on ``chip`` without time (the ideal chip unless given), which serves every
    event when it arrives, so what it serves is what the inputs ask."""
    served = _asked_per_ms(deployment, inputs, chip)
    window = DEMAND_WINDOW_US // 1000
    sliding = np.cumsum(np.r_[np.zeros((1, served.shape[1])), served], axis=0)
    sums = sliding[window:] - sliding[:-window] if len(served) > window else sliding[-1:]
    peak = sums.max(axis=0) / (DEMAND_WINDOW_US / 1e6)
    return {int(core): float(peak[core]) for core in deployment.mapping.layer2core.values()}


def _asked_per_ms(deployment, inputs: np.ndarray, chip: Speck | None = None) -> np.ndarray:
    chip = chip or ideal_chip(deployment.mapping.config, deployment.device.profile)
    chip.count_served_per_period(1000)
    chip.run(inputs, until=float(inputs["t"][-1]) + 1000)
    return chip.take_served_per_period()[1]


def _kth_spike_delays(device: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each neuron's k-th device spike against its k-th reference spike, in cause order."""

    def ordered(spikes):
        key = np.lexsort((spikes["t"], spikes["x"], spikes["y"], spikes["feature"]))
        return spikes[key]

    device, reference = ordered(device), ordered(reference)
    if len(device) != len(reference):
        raise AssertionError("the deterministic chip fired other spikes than the ideal one")
    delay = device["t"].astype(np.int64) - reference["t"].astype(np.int64)
    return delay[np.argsort(reference["t"], kind="stable")].astype(np.float64)


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    if len(values) <= width:
        return np.array([np.median(values)])
    return np.median(np.lib.stride_tricks.sliding_window_view(values, width), axis=1)


# --- the generator ------------------------------------------------------------------------


def draw(seed: int) -> Scenario:
    """One seeded scenario (see the module docstring)."""
    rng = np.random.default_rng(seed)
    size = int(rng.choice([32, 48, 64, 128], p=[0.3, 0.3, 0.3, 0.1]))
    reset = str(rng.choice(["subtract", "zero"]))
    converted = size in (64, 128) and rng.random() < 0.2
    if converted:
        net = converted_net(float(rng.uniform(0.8, 2.0)), seed, size)
        n_layers, name = 4, f"converted{size}"
        if reset == "zero":
            for module in net.modules():
                if hasattr(module, "reset_fn"):
                    module.reset_fn = MembraneReset()
    else:
        n_layers = int(rng.integers(2, 7))
        kernels, strides, channels, pools, side = [], [], [2], set(), size
        for index in range(n_layers):
            kernel = int(rng.integers(1, 8))
            stride = 2 if side > 16 and rng.random() < 0.5 else 1
            if index == 0 and side > 64:
                stride = 2
            kernels.append(kernel)
            strides.append(stride)
            channels.append(int(rng.integers(2, 13)))
            side = -(-side // stride)
            if side >= 8 and rng.random() < 0.2:
                pools.add(index)
                side //= 2
        net = conv_stack(
            kernels, strides, channels, pools, float(rng.uniform(0.7, 1.6)), seed, reset
        )
        name = f"conv{n_layers}x{size}-k{''.join(map(str, kernels))}"
    decimators = (
        {int(rng.integers(0, n_layers)): int(rng.integers(0, 3))} if rng.random() < 0.15 else {}
    )
    events, overload = _input(rng, size)
    return Scenario(
        seed=seed,
        name=name,
        net=net,
        input_shape=(2, size, size),
        events=events,
        reset=reset,
        decimators=decimators,
        overload=(int(rng.integers(0, n_layers)), *overload) if overload else None,
        noise_scale=float(rng.uniform(0.0, 2.0)),
        belief_error=float(rng.uniform(-0.3, 0.3)),
    )


def _input(rng: np.random.Generator, size: int):
    """Events of one of the input kinds, and (factor, start, end) of an overload, or None."""
    from hil.recordings import synthetic

    duration_s = float(rng.uniform(0.15, 0.3))
    total_us = round(duration_s * 1e6)
    kind = str(rng.choice(["sparse", "dense", "burst", "silence", "ramp"]))
    area = size * size / 4096  # rates per 64×64
    seed = int(rng.integers(1 << 30))
    if kind == "sparse":
        events = synthetic.poisson(rng.uniform(1e3, 1e4) * area, duration_s, (size, size), seed)
    elif kind == "dense":
        events = synthetic.poisson(rng.uniform(3e4, 1e5) * area, duration_s, (size, size), seed)
    elif kind == "burst":
        events = synthetic.burst(
            rng.uniform(2e3, 1e4) * area, duration_s, (size, size), seed,
            burst_rate=rng.uniform(5e4, 2e5) * area,
            burst_duration_s=rng.uniform(0.005, duration_s / 2),
        )  # fmt: skip
    elif kind == "silence":
        events = synthetic.poisson(rng.uniform(5e3, 3e4) * area, duration_s, (size, size), seed)
        gap = (events["t"] > total_us * 0.3) & (events["t"] < total_us * 0.8)
        events = events[~gap]
    else:  # a slow ramp: the rate grows linearly from nothing
        events = synthetic.poisson(rng.uniform(2e4, 8e4) * area, duration_s, (size, size), seed)
        keep = rng.random(len(events)) < events["t"] / total_us
        events = events[keep]
    overload = None
    if rng.random() < 0.5:
        span = float(np.exp(rng.uniform(np.log(5_000), np.log(total_us))))
        start = float(rng.uniform(0, total_us - span))
        overload = (float(rng.uniform(1.05, 3.0)), int(start), int(start + span))
    return events, overload


def truth_budgets(scenario: Scenario, deployment, inputs: np.ndarray) -> list[float]:
    """Budgets per core: room (1.3–3× its peak demand) for every core, except the overloaded
    one, which serves its mean demand over the overload span divided by the factor."""
    rng = np.random.default_rng(scenario.seed + 1)
    budgets = list(load_profile("speck2f").synops_per_s)
    demand = true_demand(deployment, inputs)
    for core, peak in demand.items():
        budgets[core] = max(peak, 1e3) * float(rng.uniform(1.3, 3.0))
    if scenario.overload is not None:
        layer, factor, start, end = scenario.overload
        core = deployment.mapping.core_of(layer)
        asked = _served_between(deployment, inputs, core, start, end)
        if asked > 0:
            budgets[core] = asked / ((end - start) / 1e6) / factor
    return budgets


def _served_between(deployment, inputs, core: int, start: int, end: int) -> float:
    """SynOps ``core`` is asked for by the inputs between ``start`` and ``end`` (µs)."""
    served = _asked_per_ms(deployment, inputs)
    return float(served[start // 1000 : max(end // 1000, start // 1000 + 1), core].sum())
