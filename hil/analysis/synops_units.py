"""SynOps/s per core four ways, in one table, with the unit each one was asked in.

sinabs has two counters and their docs disagree on units: ``sinabs.hooks.register_synops_hooks
(seq, dt=...)`` takes dt in **seconds**; ``sinabs.synopcounter.SNNAnalyzer(model, dt=...)``
takes dt in **milliseconds** (``synops/s = synops / steps / dt * 1000``), although one page
of the docs says microseconds. A rate off by 1000 from a unit mix-up looks like a chip 1000
times over or under budget, so each figure here says how it was made:

- device: the SynOps each core was charged, counted per event from the run's inputs and
  monitored outputs (``hil.analysis.synops``); mean over the run and peak over 10 ms windows;
- seed formula: N_in/s · C_out · kx · ky / (sx · sy) from the core's mean input rate;
- sinabs.hooks: the float SNN's forward on the run's inputs in ``dt_us`` steps, dt = dt_us/1e6 s;
- SNNAnalyzer: the discretized reference's forward, dt = dt_us/1000 ms.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sinabs
import torch
from sinabs.hooks import register_synops_hooks
from sinabs.utils import set_batch_size
from torch import nn

from hil.analysis.synops import SynopsReport
from hil.backends.deploy import Mapping
from hil.backends.simulate import spike_frames
from hil.backends.torch_threads import use_torch_threads

DEFAULT_DT_US = 1000
US_PER_S = 1_000_000
#: Runs per forward when sinabs.hooks estimates over many runs.
HOOKS_BATCH = 32


@dataclass(frozen=True)
class UnitsRow:
    core: int
    layer: int
    device_mean: float
    device_peak: float
    formula: float
    hooks: float | None
    analyzer: float | None
    budget: float


def hooks_synops_per_s(
    snn: nn.Sequential,
    mapping: Mapping,
    inputs: np.ndarray | Sequence[np.ndarray],
    dt_us: int = DEFAULT_DT_US,
) -> dict[int, float]:
    """Per core, sinabs.hooks' SynOps/s of ``snn`` (a flat Sequential, as ``sinabs.from_model``
    makes) on chip ``inputs`` binned in ``dt_us`` steps, dt given in seconds: the mean over
    the run, or, for several runs' inputs, over all their time (run as batches, not one
    forward each)."""
    runs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    runs = [run for run in runs if len(run)]
    if not runs or not isinstance(snn, nn.Sequential):
        return {}
    use_torch_threads()
    network = copy.deepcopy(snn)
    register_synops_hooks(network, dt=dt_us / US_PER_S)
    weighted = [i for i, layer in enumerate(network) if isinstance(layer, nn.Conv2d | nn.Linear)]
    totals = dict.fromkeys(weighted, 0.0)
    steps = 0
    for start in range(0, len(runs), HOOKS_BATCH):
        batch = runs[start : start + HOOKS_BATCH]
        lengths = [int(run["t"][-1] - run["t"][0]) // dt_us + 1 for run in batch]
        frames = torch.stack(
            [
                spike_frames(run, mapping.input_shape, dt_us, int(run["t"][0]), max(lengths))
                for run in batch
            ]
        )
        set_batch_size(network, len(batch))
        sinabs.reset_states(network)
        with torch.no_grad():
            network(frames.flatten(0, 1))
        rates = network.hook_data.get("synops_per_second", {})
        for index in weighted:  # a mean over padded steps: back to SynOps, then over real time
            totals[index] += float(rates.get(index, 0.0)) * len(batch) * max(lengths)
        steps += sum(lengths)
    return {
        mapping.core_of(k): totals[index] / steps
        for k, index in enumerate(weighted)
        if k in mapping.layer2core
    }


def units_rows(report: SynopsReport, hooks: dict[int, float]) -> list[UnitsRow]:
    """One row per core of a run's SynOps report, sinabs.hooks' estimate beside it."""
    return [
        UnitsRow(
            core=core.core,
            layer=core.layer,
            device_mean=core.mean_synops_per_s,
            device_peak=core.peak_synops_per_s,
            formula=core.formula_synops_per_s,
            hooks=hooks.get(core.core),
            analyzer=core.sinabs_synops_per_s,
            budget=core.budget_synops_per_s,
        )
        for core in report.cores.values()
    ]


def format_units_table(rows: list[UnitsRow], window_us: int, dt_us: int = DEFAULT_DT_US) -> str:
    """The table, its header naming the unit and time step of every column."""
    header = (
        f"SynOps/s per core: device mean | device peak ({window_us / 1000:g} ms windows) | "
        f"seed formula | sinabs.hooks (dt={dt_us / US_PER_S:g} s) | "
        f"SNNAnalyzer (dt={dt_us / 1000:g} ms) | budget"
    )
    lines = [
        header,
        f"{'core':>4} {'layer':>5} {'device mean':>12} {'device peak':>12} {'formula':>12} "
        f"{'sinabs.hooks':>12} {'SNNAnalyzer':>12} {'budget':>12}",
    ]
    for row in rows:
        lines.append(
            f"{row.core:>4} {row.layer:>5} {_rate(row.device_mean)} {_rate(row.device_peak)} "
            f"{_rate(row.formula)} {_rate(row.hooks)} {_rate(row.analyzer)} {_rate(row.budget)}"
        )
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return f"{'—':>12}" if value is None else f"{value:>12.3g}"
