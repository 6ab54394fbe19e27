"""The sweep as a check of the ``measure`` fixture: ``measure.sweep(speck, ann, dataset, ...)``.

Every factor's figures become measurements (``sweep.x5.accuracy``, ``sweep.x5.core2.
synops_peak``, ...), so they land in the run record and the history: a firmware or samna change
that moves the chosen factor, or the accuracy at a factor, shows as a change in its series.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from hil.analysis.checks import HilMeasure
from hil.backends.base import Device
from hil.conversion.results import SweepResult
from hil.conversion.sweep import DEFAULT_FACTORS, DEFAULT_MARGIN, sweep
from hil.measurement import Measurement
from hil.recordings.datasets import Dataset


class ConversionMeasure(HilMeasure):
    """``HilMeasure`` with the conversion sweep."""

    def sweep(
        self,
        device: Device,
        ann: nn.Module,
        dataset: Dataset,
        factors: Sequence[float] = DEFAULT_FACTORS,
        margin: float = DEFAULT_MARGIN,
        require_choice: bool = True,
        **options,
    ) -> SweepResult:
        """Run ``hil.conversion.sweep`` and record it; with ``require_choice`` a sweep that
        finds no factor within budget fails (``sweep.factor_found``)."""
        result = sweep(device, ann, dataset, factors, margin=margin, **options)
        for measurement in sweep_measurements(result, require_choice):
            self.add(measurement)
        return result


def sweep_measurements(result: SweepResult, require_choice: bool = True) -> list[Measurement]:
    found = result.chosen is not None
    measurements = [
        Measurement(
            "sweep.factor_found",
            float(found),
            lower=1.0 if require_choice else None,
            note=result.reason,
        ),
    ]
    if found:
        measurements.append(Measurement("sweep.chosen_factor", result.chosen, note=result.reason))
    else:
        measurements.append(Measurement.skip("sweep.chosen_factor", result.reason))
    for f in result.factors:
        name = f"sweep.x{f.factor:g}."
        chip, sinabs = f.accuracy.chip, f.accuracy.sinabs
        measurements += [
            Measurement(name + "accuracy", chip.accuracy, note=str(chip), better="higher"),
            Measurement(name + "accuracy_ci_low", chip.ci_low, better="higher"),
            Measurement(name + "output_spikes", f.output_spikes_per_sample, "spikes/sample"),
            Measurement(name + "silent_share", f.silent_share, better="lower"),
            Measurement(name + "stalled_samples", f.stalled_samples, "samples", better="lower"),
        ]
        if sinabs is not None:
            measurements.append(
                Measurement(name + "sinabs_accuracy", sinabs.accuracy, note=str(sinabs))
            )
        for percentile, value in f.latency_us.items():
            measurements.append(
                Measurement(name + f"latency_p{percentile}", value, "µs", better="lower")
            )
        for core in f.cores.values():
            measurements.append(
                Measurement(
                    name + f"core{core.core}.synops_peak",
                    core.peak,
                    "SynOps/s",
                    note=f"layer {core.layer}; budget {core.budget:.3g}; sinabs.hooks mean "
                    f"{core.sinabs_hooks:.3g}",
                    better="lower",
                )
            )
    return measurements
