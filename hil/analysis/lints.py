"""Deployability lints: what will go wrong on the chip, found before anything runs.

Errors are what the chip cannot run (memory, shape limits, the ``threshold_low = 0`` bug),
what it would run other than the network was made (a reset mode other than the one the
network's spiking layers use), and layers that can never fire (no positive weight, or fed
only by layers that never fire): a test of such a network can only pass vacuously. Warnings
are what the chip runs differently from a time-stepped simulation: a weight at or above the
threshold (one input spike fires the neuron; at twice the threshold the neuron is left above
threshold and fires on every later input, the seed's weight-clipping case).

Geometry and weights come from the discretized sinabs layers; the per-core registers
(thresholds, reset mode) come from the configuration itself, read attribute by attribute,
because a configuration the chip refuses (threshold_low 0) must still be linted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch

from hil.backends.base import DeployError
from hil.backends.deploy import Mapping, core_shape, map_network, reset_mode_of
from hil.backends.layers import InputShapeError, UnsupportedLayer
from hil.chip.devices import DEVICE_TYPES
from hil.chip.memory import CoreShape, MemoryUse, check_core
from hil.chip.profile import ChipProfile, MemoryTable, load_profile

if TYPE_CHECKING:
    from hil.backends.base import Deployment

ERROR = "error"
WARNING = "warning"
OK = "ok"


@dataclass(frozen=True)
class Finding:
    """One problem: ``value`` broke ``limit`` on ``core`` (None when unmapped)."""

    severity: str
    rule: str
    layer: int | None
    core: int | None
    value: float | str | None
    limit: float | str | None
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class CoreUsage:
    """One core's row in the lint table: memory words used and available, weight ratio."""

    core: int
    layer: int
    used: MemoryUse
    available: MemoryUse
    max_weight_ratio: float
    status: str


@dataclass(frozen=True)
class LintReport:
    findings: list[Finding]
    cores: list[CoreUsage]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]


def lint_deployment(deployment: Deployment) -> LintReport:
    return lint_mapping(deployment.mapping, deployment.device.profile)


def lint_mapping(mapping: Mapping, profile: ChipProfile) -> LintReport:
    """Every finding for every core the mapping uses, and the per-core table."""
    findings, cores = [], []
    silent: set[int] = set()
    for layer, dynapcnn_layer in sorted(mapping.cnn_layers().items()):
        core = mapping.core_of(layer)
        registers = mapping.config.cnn_layers[core]
        shape = core_shape(dynapcnn_layer)
        weight = float(dynapcnn_layer.conv_layer.weight.detach().abs().max())
        threshold = int(registers.threshold_high)
        found = [
            *_memory_findings(layer, core, shape, profile),
            *_shape_findings(layer, core, shape, profile),
            *_weight_findings(layer, core, weight, threshold),
            *_threshold_low_findings(layer, core, int(registers.threshold_low)),
            *_reset_findings(layer, core, dynapcnn_layer, bool(registers.return_to_zero)),
            *_silent_findings(layer, core, dynapcnn_layer, registers, silent),
        ]
        findings += found
        severities = {f.severity for f in found}
        cores.append(
            CoreUsage(
                core=core,
                layer=layer,
                used=shape.memory,
                available=MemoryUse(
                    profile.memory.kernel_words[core],
                    profile.memory.neuron_words[core],
                    profile.memory.bias_words[core],
                ),
                max_weight_ratio=weight / threshold if threshold > 0 else float("inf"),
                status=ERROR if ERROR in severities else WARNING if severities else OK,
            )
        )
    return LintReport(findings=findings, cores=cores)


def check_network(
    net: torch.nn.Module,
    input_shape: tuple[int, int, int],
    device_type: str = "speck2fmodule",
    profile: ChipProfile | None = None,
    reset: str | None = None,
) -> LintReport:
    """Lint a sinabs network without a device: map it as ``deploy`` would (``reset`` None: as
    the network's neurons say), then lint the mapping. A network sinabs cannot map gives one
    error finding naming the layer."""
    if device_type not in DEVICE_TYPES:
        raise ValueError(f"unknown device type {device_type!r}; known: {', '.join(DEVICE_TYPES)}")
    if profile is None:
        profile = load_profile(DEVICE_TYPES[device_type][1])
    try:
        mapping = map_network(
            net,
            input_shape,
            device_type=device_type,
            profile=profile,
            reset=reset,
            monitor="exit",
            decimators={},
            layer2core_map="auto",
        )
    except (UnsupportedLayer, InputShapeError):
        raise  # bad input, not a finding: no chip could run the network on this input
    except DeployError as exc:
        finding = Finding(ERROR, "mapping", exc.layer, None, None, exc.limit, str(exc))
        return LintReport(findings=[finding], cores=[])
    return lint_mapping(mapping, profile)


def format_core_table(report: LintReport) -> str:
    """The per-core table as fixed-width text, then the findings, one a line."""
    header = ("core", "layer", "kernel words", "neuron words", "bias words", "max|w|/θ", "status")
    rows = [
        (
            str(usage.core),
            str(usage.layer),
            f"{usage.used.kernel}/{usage.available.kernel}",
            f"{usage.used.neuron}/{usage.available.neuron}",
            f"{usage.used.bias}/{usage.available.bias}",
            f"{usage.max_weight_ratio:.2f}",
            usage.status,
        )
        for usage in report.cores
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines += [str(finding) for finding in report.findings]
    return "\n".join(lines)


def _memory_findings(
    layer: int, core: int, shape: CoreShape, profile: ChipProfile
) -> list[Finding]:
    used = shape.memory
    return [
        Finding(
            ERROR,
            f"{what}-memory",
            layer,
            core,
            needed,
            table[core],
            f"layer {layer} on core {core}: {what} memory {needed} words > {table[core]} available",
        )
        for what, needed, table in (
            ("kernel", used.kernel, profile.memory.kernel_words),
            ("neuron", used.neuron, profile.memory.neuron_words),
            ("bias", used.bias, profile.memory.bias_words),
        )
        if needed > table[core]
    ]


def _shape_findings(layer: int, core: int, shape: CoreShape, profile: ChipProfile) -> list[Finding]:
    """Shape limits only: memory is reported with its numbers by ``_memory_findings``."""
    unlimited = (2**62,) * profile.n_cores
    shape_only = replace(profile, memory=MemoryTable(unlimited, unlimited, unlimited))
    return [
        Finding(ERROR, "shape", layer, core, None, None, f"layer {layer} on {problem}")
        for problem in check_core(core, shape, shape_only)
    ]


def _weight_findings(layer: int, core: int, weight: float, threshold: int) -> list[Finding]:
    if weight < threshold:
        return []
    if weight >= 2 * threshold:
        consequence = (
            "one input spike leaves the neuron above threshold after its single spike, so it "
            "fires on every later input"
        )
    else:
        consequence = "one input spike alone fires the neuron"
    return [
        Finding(
            WARNING,
            "weight-threshold",
            layer,
            core,
            weight,
            threshold,
            f"layer {layer} on core {core}: max |weight| {weight:g} >= threshold_high "
            f"{threshold} ({weight / max(threshold, 1):.2f}x): {consequence}; clip weights "
            "below the threshold in training",
        )
    ]


def _threshold_low_findings(layer: int, core: int, threshold_low: int) -> list[Finding]:
    if threshold_low != 0:
        return []
    return [
        Finding(
            ERROR,
            "threshold-low",
            layer,
            core,
            threshold_low,
            -1,
            f"layer {layer} on core {core}: threshold_low 0 triggers a known chip bug; "
            "use -1 or lower",
        )
    ]


def _reset_findings(
    layer: int, core: int, dynapcnn_layer: Any, return_to_zero: bool
) -> list[Finding]:
    trained = reset_mode_of(dynapcnn_layer)
    deployed = "zero" if return_to_zero else "subtract"
    if trained is None or trained == deployed:
        return []
    reset_fn = type(dynapcnn_layer.spk_layer.reset_fn).__name__
    return [
        Finding(
            ERROR,
            "reset-mode",
            layer,
            core,
            deployed,
            trained,
            f"layer {layer} on core {core}: deployed with reset {deployed!r} but its spiking "
            f"layer uses {reset_fn}, which needs reset {trained!r} (deploy with reset=None "
            "to take it from the network)",
        )
    ]


def _silent_findings(
    layer: int, core: int, dynapcnn_layer: Any, registers: Any, silent: set[int]
) -> list[Finding]:
    """A neuron fires only when positive weights (or, with leak, a positive bias) lift it to
    the threshold; a layer without either, or fed by a layer that never fires, never fires.
    ``silent`` collects such layers, in order, for the layers after them."""
    conv = dynapcnn_layer.conv_layer
    drive = bool((conv.weight.detach() > 0).any())
    if conv.bias is not None and bool(registers.leak_enable):
        drive = drive or bool((conv.bias.detach() > 0).any())
    fed_by_silent = layer - 1 in silent
    if drive and not fed_by_silent:
        return []
    silent.add(layer)
    why = (
        f"its input, layer {layer - 1}, never fires"
        if fed_by_silent
        else "no weight is positive, so no input can lift a neuron to its threshold"
    )
    return [
        Finding(
            ERROR,
            "silent-layer",
            layer,
            core,
            None,
            None,
            f"layer {layer} on core {core} can never fire: {why}",
        )
    ]
