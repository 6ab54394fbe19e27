"""The first-layer scale sweep: each factor's SNN deployed on the device and judged on a dataset.

Per factor, every sample is replayed on the device and run through sinabs' reference of the
same deployment; from those runs come the accuracy with its interval on both, the output spikes
per sample and the share of silent samples, each layer's onset (when it first fires, as a
share of the recording), each core's peak and mean SynOps/s against the budget with sinabs'
estimate beside them, the stall verdict, output latency and, where the device measures it,
power and energy per sample. ``choice.choose`` then picks the factor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from torch import nn

from hil.analysis.accuracy import SampleOutcome, classify, score
from hil.analysis.power import power_report
from hil.analysis.stall import stall_report
from hil.analysis.synops import synops_report
from hil.analysis.synops_units import hooks_synops_per_s
from hil.backends.base import Device
from hil.conversion.choice import choose
from hil.conversion.recipe import DEFAULT_PERCENTILE, Converter, dataset_frames
from hil.conversion.results import CoreLoad, FactorResult, SweepResult
from hil.recordings.datasets import Dataset

DEFAULT_FACTORS = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0)
DEFAULT_MARGIN = 0.1
LATENCY_PERCENTILES = (50, 95)


def sweep(
    device: Device,
    ann: nn.Module,
    dataset: Dataset,
    factors: Sequence[float] = DEFAULT_FACTORS,
    input_shape: tuple[int, int, int] | None = None,
    percentile: float = DEFAULT_PERCENTILE,
    margin: float = DEFAULT_MARGIN,
    normalise_on: Dataset | None = None,
    on_factor: Callable[[FactorResult, int, int], None] | None = None,
    on_sample: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Normalise ``ann`` on event frames of ``normalise_on`` (default: ``dataset``), then per
    factor convert, scale, deploy on ``device`` and judge on ``dataset``; choose a factor.
    ``on_factor(result, index, total)`` is called as each factor finishes."""
    if not factors:
        raise ValueError("give at least one factor")
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    if not len(dataset):
        raise ValueError(f"{dataset.describe()} has no samples")
    shape = input_shape or _input_shape(dataset)
    converter = Converter(ann, dataset_frames(normalise_on or dataset, shape), percentile)
    result = SweepResult(dataset.describe(), str(device.info), margin, percentile)
    for index, factor in enumerate(factors):
        snn = converter.snn(float(factor))
        deployment = device.deploy(snn, input_shape=shape, monitor="all")
        outcomes = list(classify(deployment, dataset, on_sample=on_sample))
        measured = factor_result(float(factor), outcomes, dataset.describe(), snn)
        result.factors.append(measured)
        if on_factor is not None:
            on_factor(measured, index, len(factors))
    result.chosen, result.binding_core, result.reason = choose(result.factors, margin)
    return result


def factor_result(
    factor: float, outcomes: list[SampleOutcome], name: str, snn: nn.Sequential
) -> FactorResult:
    """What one factor's runs show."""
    deployment = outcomes[0].run.deployment
    mapping = deployment.mapping
    exit_core = mapping.core_of(max(mapping.layer2core))
    spikes = [int(np.count_nonzero(o.run.outputs["layer"] == exit_core)) for o in outcomes]
    onsets: dict[int, list[float]] = {layer: [] for layer in mapping.layer2core}
    peaks: dict[int, list[float]] = {}
    means: dict[int, list[float]] = {}
    hooks = hooks_synops_per_s(snn, mapping, [o.run.inputs for o in outcomes])
    stalled, reasons, delays, powers, energies = 0, [], [], [], []
    timed = deployment.device.dt_us is None
    budgets: dict[int, float] = {}
    for outcome in outcomes:
        run = outcome.run
        length = (
            max(int(run.inputs["t"][-1]) - int(run.inputs["t"][0]), 1) if len(run.inputs) else 1
        )
        for layer, core in mapping.layer2core.items():
            fired = run.outputs["t"][run.outputs["layer"] == core]
            start = int(run.inputs["t"][0]) if len(run.inputs) else 0
            onsets[layer].append((int(fired.min()) - start) / length if len(fired) else np.inf)
        if not timed:
            continue
        report = synops_report(run)
        for core, load in report.cores.items():
            peaks.setdefault(core, []).append(load.peak_synops_per_s)
            means.setdefault(core, []).append(load.mean_synops_per_s)
            budgets[core] = load.budget_synops_per_s
        stall = stall_report(run)
        if stall.stalled:
            stalled += 1
            reasons.append(f"{outcome.sample.name}: {stall.reasons[0]}")
        delays.append(stall.delays.delay_us)
        power = power_report(run)
        if power is not None:
            powers.append(power.mean_w * 1e3)
            energies.append(power.energy_j * 1e6)
    cores = {
        core: CoreLoad(
            core=core,
            layer=mapping.layer_of(core),
            peak=max(peaks[core]),
            mean=float(np.mean(means[core])),
            budget=budgets[core],
            sinabs_hooks=hooks.get(core, 0.0),
        )
        for core in sorted(peaks)
    }
    pooled = np.concatenate(delays) if delays else np.zeros(0)
    latency = (
        dict(
            zip(
                LATENCY_PERCENTILES,
                map(float, np.percentile(pooled, LATENCY_PERCENTILES)),
                strict=True,
            )
        )
        if len(pooled)
        else {}
    )
    return FactorResult(
        factor=factor,
        accuracy=score(outcomes, name),
        output_spikes_per_sample=float(np.mean(spikes)),
        silent_share=float(np.mean([count == 0 for count in spikes])),
        onset={layer: float(np.median(values)) for layer, values in onsets.items()},
        cores=cores,
        stalled_samples=stalled,
        stall_reasons=reasons,
        latency_us=latency,
        power_mw=float(np.mean(powers)) if powers else None,
        energy_uj_per_sample=float(np.mean(energies)) if energies else None,
    )


def _input_shape(dataset: Dataset) -> tuple[int, int, int]:
    """(P, H, W) of the dataset's sensor, as a network takes it."""
    width, height, polarities = dataset.samples[0].sensor_size
    return (polarities, height, width)
