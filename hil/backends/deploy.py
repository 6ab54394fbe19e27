"""From a sinabs network to a chip configuration, with sinabs' own mapper and discretizer.

The harness never re-implements sinabs' mapping: it checks what sinabs would only fail on
vaguely (non-finite parameters, a layer no core can hold), calls
``DynapcnnNetwork.make_config``, then applies the deployment's options (reset mode,
monitors, decimators) to the configuration sinabs wrote. Without a reset mode, the network's
own sinabs neurons say it, as sinabs' mapper reads them (``reset_mode_of``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hil.backends.errors import DeployError
from hil.chip.memory import CoreShape, check_core
from hil.chip.profile import ChipProfile
from hil.emulator.program import DVS_LAYER
from hil.events import SPIKE_DTYPE, EventError

if TYPE_CHECKING:
    import torch

#: The chip's two reset modes: subtract the threshold (sinabs' MembraneSubtract, the chip's
#: default) or reset to zero (MembraneReset, the chip's ``return_to_zero``).
RESET_MODES = ("subtract", "zero")
#: The probe network: one neuron, what a device needs configured to answer a barrier read.
PROBE_INPUT_SHAPE = (1, 1, 1)


@dataclass
class Mapping:
    """A network mapped onto cores: what a deployment needs to write inputs and read outputs.

    ``layer2core`` maps sinabs' DynapcnnLayer indices to cores; ``entry_core`` is the core
    sensor events are written to (``DVS_LAYER`` when the network starts with a DVS layer).
    """

    network: Any  # sinabs DynapcnnNetwork, discretized
    config: Any  # samna (or emulated samna) SpeckConfiguration
    reset_mode: str  # "subtract" or "zero", on every core
    device_type: str
    input_shape: tuple[int, int, int]
    layer2core: dict[int, int]
    entry_core: int
    monitored_cores: tuple[int, ...]
    config_hash: str

    def cnn_layers(self) -> dict[int, Any]:
        """sinabs' DynapcnnLayers by index (the DVS layer left out)."""
        return cnn_layers(self.network)

    def core_of(self, layer: int) -> int:
        return self.layer2core[layer]

    def layer_of(self, core: int) -> int:
        return next(layer for layer, c in self.layer2core.items() if c == core)

    def input_spikes(self, events: np.ndarray, source: str = "events") -> np.ndarray:
        """Sensor events (x, y, p, t) as chip input events for the entry core."""
        channels, height, width = self.input_shape
        for name, size in (("x", width), ("y", height), ("p", channels)):
            if len(events) and int(events[name].max()) >= size:
                index = int(np.argmax(events[name] >= size))
                value = int(events[name][index])
                raise EventError(
                    f"{source}: field {name!r} at index {index} is {value}, outside the "
                    f"network input (C, H, W) = {self.input_shape}",
                    field=name,
                    index=index,
                    value=value,
                )
        spikes = np.empty(len(events), dtype=SPIKE_DTYPE)
        spikes["layer"] = self.entry_core
        spikes["x"] = events["x"]
        spikes["y"] = events["y"]
        spikes["feature"] = events["p"]
        spikes["t"] = events["t"]
        return spikes


def map_network(
    net: torch.nn.Module,
    input_shape: tuple[int, int, int],
    *,
    device_type: str,
    profile: ChipProfile,
    reset: str | None,
    monitor: str | list[int],
    decimators: dict[int, int],
    layer2core_map: str | dict[int, int],
) -> Mapping:
    from hil.backends.layers import check_input_shape, conversion_error  # torch, when needed
    from hil.emulator.install import install_as_samna

    install_as_samna()
    from sinabs.backend.dynapcnn import DynapcnnNetwork

    _check_finite(net)
    input_shape = tuple(int(v) for v in input_shape)
    check_input_shape(input_shape, profile)
    try:
        network = DynapcnnNetwork(net, input_shape=input_shape, discretize=True)
    except Exception as exc:  # sinabs' own exceptions derive from Exception only
        raise conversion_error(net, exc, input_shape) from exc
    layers = cnn_layers(network)
    for index, layer in layers.items():
        _check_fits_some_core(index, layer, profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # sinabs prints "Network is valid"
            config = network.make_config(
                layer2core_map=layer2core_map,
                device=device_type,
                monitor_layers=_sinabs_monitor(monitor, layers),
            )
    except ValueError as exc:
        raise DeployError(f"sinabs found no mapping of the layers onto cores: {exc}") from exc
    layer2core = dict(network.layer2core_map)
    for layer, code in decimators.items():
        if layer not in layer2core:
            raise DeployError(f"decimator for layer {layer}: no such layer", layer=layer)
        if not 0 <= code < len(profile.decimator_intervals):
            raise DeployError(
                f"decimator for layer {layer}: interval code {code} not in 0..7",
                layer=layer,
                limit="decimator interval code",
            )
        core_config = config.cnn_layers[layer2core[layer]]
        core_config.output_decimator_enable = True
        core_config.output_decimator_interval = code
    reset = reset or network_reset_mode(layers)
    for core in layer2core.values():
        config.cnn_layers[core].return_to_zero = reset == "zero"
        _zero_initial_states(config.cnn_layers[core])
    entry = (
        DVS_LAYER
        if network.has_dvs_layer()
        else layer2core[min(network.dynapcnn_module.entry_points)]
    )
    monitored = tuple(
        sorted(core for core in layer2core.values() if config.cnn_layers[core].monitor_enable)
    )
    return Mapping(
        network=network,
        config=config,
        reset_mode=reset,
        device_type=device_type,
        input_shape=input_shape,
        layer2core=layer2core,
        entry_core=entry,
        monitored_cores=monitored,
        config_hash=config_hash(config),
    )


def _zero_initial_states(core_config: Any) -> None:
    """Every replay starts from zero, as the reference does. sinabs copies the network's
    ``v_mem`` into ``neurons_initial_value`` at ``make_config`` (a network run in sinabs
    first carries its state onto the chip, sinabs#148), and re-applying a configuration
    restores those values: zeroed here, every reset (a re-apply) starts from zero."""
    initial = np.asarray(core_config.neurons_initial_value)
    if initial.any():
        core_config.neurons_initial_value = np.zeros_like(initial).tolist()


def probe_network() -> torch.nn.Module:
    """One input, one neuron: the smallest network a chip can hold."""
    import sinabs.layers as sl
    from torch import nn

    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))
    nn.init.constant_(net[0].weight, 0.5)
    return net


def cnn_layers(network: Any) -> dict[int, Any]:
    from sinabs.backend.dynapcnn.dynapcnn_layer import DynapcnnLayer

    items = network.dynapcnn_layers.items()
    return {index: layer for index, layer in items if isinstance(layer, DynapcnnLayer)}


def reset_mode_of(dynapcnn_layer: Any) -> str | None:
    """The chip reset ("zero" or "subtract") a layer's sinabs neurons were made with, if known."""
    from sinabs.activation import MembraneReset, MembraneSubtract

    reset_fn = getattr(dynapcnn_layer.spk_layer, "reset_fn", None)
    if isinstance(reset_fn, MembraneReset):
        return "zero"
    if isinstance(reset_fn, MembraneSubtract):
        return "subtract"
    return None


def network_reset_mode(layers: dict[int, Any]) -> str:
    """The one reset the network's sinabs layers were made with, as sinabs' mapper reads it
    (a reset function it does not know counts as the chip's default, subtract). Layers that
    reset differently raise ``DeployError``: the harness deploys one mode on every core."""
    modes = {index: reset_mode_of(layer) or "subtract" for index, layer in layers.items()}
    if len(set(modes.values())) > 1:
        said = ", ".join(f"layer {index}: {mode}" for index, mode in sorted(modes.items()))
        raise DeployError(
            f"the network's layers reset differently ({said}); pass reset='subtract' or "
            "'zero' to deploy one mode on every core",
            limit="one reset mode",
        )
    return next(iter(modes.values()), "subtract")


def config_hash(config: Any) -> str:
    """A digest of a configuration, to skip re-applying one the device already holds."""
    return hashlib.sha256(config.to_json().encode()).hexdigest()


def _check_finite(net: torch.nn.Module) -> None:
    """NaN or inf would be discretized into nonsense without a word from sinabs."""
    import torch

    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            module_name, _, what = name.rpartition(".")
            module = net.get_submodule(module_name)
            bad = torch.nonzero(~torch.isfinite(tensor))[0].tolist()
            raise DeployError(
                f"layer {module_name!r} ({type(module).__name__}): {what}{bad} is "
                f"{tensor[tuple(bad)].item()}, and {int((~torch.isfinite(tensor)).sum())} "
                "value(s) in all are not finite",
                limit="finite parameters",
            )


def core_shape(dynapcnn_layer: Any) -> CoreShape:
    """The geometry a sinabs DynapcnnLayer occupies on its core."""
    conv = dynapcnn_layer.conv_layer
    return CoreShape(
        input_shape=tuple(int(v) for v in dynapcnn_layer.in_shape),
        output_shape=tuple(int(v) for v in dynapcnn_layer.get_neuron_shape()),
        kernel_size=int(conv.kernel_size[0]),
        stride=tuple(int(v) for v in conv.stride),
        padding=tuple(int(v) for v in conv.padding),
        bias=conv.bias is not None,
    )


def _check_fits_some_core(index: int, layer: Any, profile: ChipProfile) -> None:
    conv = layer.conv_layer
    shape = core_shape(layer)
    reasons = {core: check_core(core, shape, profile) for core in range(profile.n_cores)}
    if all(reasons.values()):
        closest = min(reasons, key=lambda core: len(reasons[core]))
        detail = "; ".join(reason.split(": ", 1)[1] for reason in reasons[closest])
        raise DeployError(
            f"layer {index} ({_describe(conv, shape)}) fits no core: {detail} "
            f"(on core {closest}, the closest fit)",
            layer=index,
            limit=detail,
        )


def _describe(conv: torch.nn.Conv2d, shape: CoreShape) -> str:
    c, h, w = shape.output_shape
    return f"conv {conv.in_channels}→{conv.out_channels} k{shape.kernel_size}, output {c}×{h}×{w}"


def _sinabs_monitor(monitor: str | list[int], layers: dict[int, Any]) -> Any:
    if monitor == "exit":
        return None
    if monitor == "all":
        return "all"
    unknown = [layer for layer in monitor if layer != "dvs" and layer not in layers]
    if unknown:
        raise DeployError(
            f"cannot monitor layer {unknown[0]}: the network has layers {sorted(layers)}",
            layer=unknown[0],
        )
    return list(monitor)
