"""sinabs' time-stepped forward of a mapped network: the reference a chip is judged against,
and what the ``sinabs`` device runs.

Events are binned into ``dt_us`` steps; every neuron may fire several times per step
(MultiSpike). Outputs are the spikes of the monitored layers *before pooling*, as a chip's
monitor reports them, stamped at the start of their bin.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sinabs
import torch
from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike

from hil.backends.deploy import Mapping, cnn_layers
from hil.backends.torch_threads import use_torch_threads
from hil.bounds import check_array_size
from hil.events import SPIKE_DTYPE, empty_spikes

DEFAULT_DT_US = 1000


def simulate(
    mapping: Mapping,
    inputs: np.ndarray,
    reset_mode: str,
    dt_us: int = DEFAULT_DT_US,
    spike_fn: type | None = None,
    synops: dict[int, float] | None = None,
) -> np.ndarray:
    """sinabs' time-stepped forward of a mapped network from zero states, on a copy whose
    neurons use ``reset_mode`` ("subtract" or "zero") and ``spike_fn`` (default MultiSpike):
    the reference a chip is judged against. Outputs as ``forward`` gives them.

    Given a ``synops`` dict, sinabs' SNNAnalyzer counts the SynOps of this same forward into
    it: per core, the total over the run (so SynOps cost no second forward)."""
    network = configured_copy(mapping, reset_mode, spike_fn or MultiSpike)
    if synops is None:
        return forward(network, mapping, inputs, dt_us)
    with synops_counted(network, mapping, dt_us, synops):
        return forward(network, mapping, inputs, dt_us)


@contextmanager
def synops_counted(
    network: Any, mapping: Mapping, dt_us: int, synops: dict[int, float]
) -> Iterator[None]:
    """sinabs' SNNAnalyzer attached to ``network`` while the block runs a forward; then
    ``synops`` holds each core's SynOps as SNNAnalyzer counts them. Its connection maps count
    border positions as the chip does, but it counts the spikes sinabs' forward produces."""
    from sinabs.synopcounter import SNNAnalyzer

    convs = {id(layer.conv_layer): index for index, layer in cnn_layers(network).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        analyzer = SNNAnalyzer(network, dt=dt_us / 1000)  # dt in ms
    try:
        yield
        statistics = analyzer.get_layer_statistics()["parameter"]
    finally:
        for handle in analyzer.handles:
            handle.remove()
    modules = dict(network.named_modules())
    for name, stats in statistics.items():
        if id(modules[name]) in convs:
            synops[mapping.core_of(convs[id(modules[name])])] = float(stats["synops"])


def configured_copy(mapping: Mapping, reset_mode: str, spike_fn: type | None = None) -> Any:
    """A copy of the mapped network whose neurons reset as ``reset_mode`` says (and fire with
    ``spike_fn``, unless None), from zero states; the mapping's own network keeps the neurons
    it was made with."""
    network = copy.deepcopy(mapping.network)
    reset_fn = MembraneReset() if reset_mode == "zero" else MembraneSubtract()
    for layer in cnn_layers(network).values():
        layer.spk_layer.reset_fn = reset_fn
        if spike_fn is not None:
            layer.spk_layer.spike_fn = spike_fn
    sinabs.reset_states(network)
    return network


def forward(network: Any, mapping: Mapping, inputs: np.ndarray, dt_us: int) -> np.ndarray:
    """Run chip input events through ``network`` (mapped as ``mapping``) in ``dt_us`` bins;
    returns the monitored layers' spikes before pooling, one event per spike, at bin start."""
    if len(inputs) == 0:
        return empty_spikes()
    use_torch_threads()
    t0 = int(inputs["t"][0])
    frames = spike_frames(inputs, mapping.input_shape, dt_us, t0)
    recorded: dict[int, torch.Tensor] = {}
    hooks = [
        layer.spk_layer.register_forward_hook(_recorder(recorded, mapping.core_of(index)))
        for index, layer in cnn_layers(network).items()
        if mapping.core_of(index) in mapping.monitored_cores
    ]
    try:
        with torch.no_grad():
            network(frames)
    finally:
        for hook in hooks:
            hook.remove()
    return _spike_events(recorded, t0, dt_us)


def spike_frames(
    spikes: np.ndarray,
    shape: tuple[int, int, int],
    dt_us: int,
    t0: int = 0,
    n_bins: int | None = None,
) -> torch.Tensor:
    """Chip input events as the (T, C, H, W) spike-count frames sinabs steps through: bin k
    counts the events with ``t0 + k·dt_us <= t < t0 + (k+1)·dt_us``."""
    bins = (spikes["t"] - t0) // dt_us
    if n_bins is None:
        n_bins = int(bins[-1]) + 1 if len(bins) else 0
    check_array_size(
        "sinabs' input frames",
        n_bins * int(np.prod(shape)),
        4,
        f"{n_bins:,} time steps of {dt_us} µs over a {'x'.join(map(str, shape))} input",
    )
    frames = np.zeros((n_bins, *shape), np.float32)
    index = (
        bins,
        spikes["feature"].astype(np.int64),
        spikes["y"].astype(np.int64),
        spikes["x"].astype(np.int64),
    )
    np.add.at(frames, index, 1.0)
    return torch.from_numpy(frames)


def _recorder(recorded: dict[int, torch.Tensor], core: int):
    def hook(_module, _inputs, output: torch.Tensor) -> None:
        recorded[core] = output.detach()

    return hook


def _spike_events(recorded: dict[int, torch.Tensor], t0: int, dt_us: int) -> np.ndarray:
    """Spike-count rasters (T, C, H, W) per core as events, one per spike, time-sorted."""
    parts = []
    for core, raster in recorded.items():
        counts = raster.round().to(torch.int64).numpy()
        step, feature, y, x = np.nonzero(counts)
        repeat = counts[step, feature, y, x]
        events = np.empty(int(repeat.sum()), dtype=SPIKE_DTYPE)
        events["layer"] = core
        events["x"] = np.repeat(x, repeat)
        events["y"] = np.repeat(y, repeat)
        events["feature"] = np.repeat(feature, repeat)
        events["t"] = t0 + np.repeat(step, repeat) * dt_us
        parts.append(events)
    if not parts:
        return empty_spikes()
    merged = np.concatenate(parts)
    return merged[np.argsort(merged["t"], kind="stable")]
