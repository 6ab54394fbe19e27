"""The harness's checks, as measurements with limits: ``measure.no_stall(run)`` and friends.

``HilMeasure`` is the ``measure`` fixture of a HIL test. Each check runs an analysis, records
what it found as measurements (every one, passing or not, so trends show in the run record)
and returns the analysis' report for the test to look at further. It also keeps the reports
per run, so a picture of each replay can be drawn when a test fails or one is asked for.

A check that cannot apply to a run (output delay or SynOps/s on a time-stepped device) records
a *skipped* measurement with the reason and returns None; it never raises in the user's test.
A monitored layer that did not fire fails its ``spikes`` measurement unless the test said
silence is expected: agreement between two silent layers is no evidence of anything.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from hil.analysis.accuracy import (
    AccuracyReport,
    SmallSampleWarning,
    accuracy_measurements,
    accuracy_report,
    small_sample_problem,
)
from hil.analysis.agreement import (
    LayerAgreement,
    ResetModeVerdict,
    agreement,
    reset_mode_verdict,
)
from hil.analysis.lints import LintReport, lint_deployment
from hil.analysis.plots import plot_run
from hil.analysis.power import PowerReport, power_report
from hil.analysis.stall import CoreStall, StallReport, stall_report
from hil.analysis.synops import SynopsReport, synops_report
from hil.backends.base import HOST_LAG_TOLERANCE_US, Deployment, Run
from hil.measurement import Measure
from hil.recordings import Recording
from hil.recordings.datasets import Dataset


@dataclass
class RunReports:
    """What the checks found about one run: the material for its picture."""

    run: Run
    stall: StallReport | None = None
    synops: SynopsReport | None = None
    agreement: list[LayerAgreement] | None = None
    power: PowerReport | None = None
    reset_modes: tuple[ResetModeVerdict, dict[str, list[LayerAgreement]]] | None = None


class HilMeasure(Measure):
    """``measure(name, value, ...)`` plus the harness's checks."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[RunReports] = []

    def no_stall(
        self,
        run: Run,
        max_delay_us: float | None = None,
        max_drift: float | None = None,
        max_drain_us: float | None = None,
    ) -> StallReport | None:
        """Output delay and drain within the profile's stall limits (or the ones given);
        drift within ``max_drift`` µs per s when given. Needs a device with time: on a
        time-stepped one it records ``delay_max`` as skipped and returns None.

        A host-limited run (the host wrote inputs after they were due) cannot be judged:
        its delay is the host's; it records a failed ``host_lag`` instead of any delay."""
        prefix = _prefix(run)
        if run.dt_us is not None:
            self.skip(f"{prefix}delay_max", _untimed(run, "output delay"), "µs")
            return None
        report = stall_report(run, max_delay_us, max_drain_us, max_drift)
        self._reports_of(run).stall = report
        if run.host_limited:
            note = (
                "the host wrote inputs up to this late after they were due, so output delay "
                "is the host's, not the chip's; replay on a less busy host"
            )
            self(
                f"{prefix}host_lag",
                run.host_lag_us,
                "µs",
                upper=HOST_LAG_TOLERANCE_US,
                note=note,
                better="lower",
            )
            return report
        device = run.deployment.device.info
        unknown = report.cannot_tell
        where = f"peak for inputs at t = {report.peak_t_us / 1e6:.3f} s on {device}"
        if unknown:
            where += f"; cannot tell for core(s) {', '.join(map(str, unknown))}: " + _UNRESOLVED
        self(
            f"{prefix}delay_max",
            report.max_us,
            "µs",
            upper=report.max_delay_us,
            marginal=report.max_delay_us if unknown else None,
            note=where,
            better="lower",
        )
        for core in report.cores.values():
            self._core_delay(prefix, core, report.max_delay_us)
        self(f"{prefix}delay_p99", report.p99_us, "µs", better="lower")
        self(f"{prefix}delay_p50", report.p50_us, "µs", better="lower")
        self(
            f"{prefix}drain",
            report.drain_us,
            "µs",
            upper=report.max_drain_us,
            note="outputs after the last input, beyond what the ideal chip needs",
            better="lower",
        )
        self(
            f"{prefix}delay_drift",
            report.drift_us_per_s,
            "µs/s",
            upper=max_drift,
            better="zero",  # a stall drifts up, a run that catches up down: both are worse
        )
        self(f"{prefix}rate_lag", report.rate_lag_us, "µs", better="lower")
        delays = report.delays
        paired = delays.matched / max(delays.matched + delays.unmatched_device, 1)
        self(
            f"{prefix}delay_paired",
            paired,
            note=f"{delays.matched:,} outputs paired with a cause on the ideal chip",
            better="higher",
        )
        return report

    def _core_delay(self, prefix: str, core: CoreStall, limit_us: float) -> None:
        name = f"{prefix}core{core.core}.delay_max"
        if core.cannot_tell:
            self.skip(name, f"core {core.core}: cannot tell: {_UNRESOLVED}", "µs")
            return
        note = f"core {core.core}, {core.resolved} of {core.windows} windows showed a delay"
        if core.stalled:
            note += (
                f"; over the limit for inputs from t = {core.over_limit_from_us / 1e6:.3f} s, "
                f"peak for inputs at t = {core.peak_t_us / 1e6:.3f} s"
            )
        self(name, core.peak_us, "µs", upper=limit_us, note=note, better="lower")

    def agreement(
        self,
        run: Run,
        reference: Run,
        min_cosine: float = 0.9,
        max_count_error: float | None = None,
        max_rate_distance: float | None = None,
        min_class_agreement: float | None = None,
        class_window_us: int | None = None,
        expect_silent: bool | list[int] = False,
    ) -> list[LayerAgreement]:
        """Per monitored layer, the chip against the sinabs reference: how many spikes it
        fired (at least one, unless ``expect_silent`` is True or lists the layer), cosine of
        the spike-count maps, total-count error, rate-series distance, and (exit layers) how
        often the predicted class is the same. A cosine under the limit on a layer whose
        monitored spikes pass a decimator (or come from spikes that did) is recorded as
        skipped, with why: there it cannot tell a right chip from a misaddressing one; a pass
        where a chip firing at random neurons would reach about the limit too (a flat
        reference map) is marginal, with why."""
        layers = agreement(run, reference, class_window_us=class_window_us)
        prefix = _prefix(run)
        for layer in layers:
            name = f"{prefix}layer{layer.layer}."
            note = (
                f"layer {layer.layer} on core {layer.core}, reference reset {reference.reset_mode}"
            )
            silence_expected = expect_silent is True or (
                isinstance(expect_silent, list | tuple | set) and layer.layer in expect_silent
            )
            self(
                name + "spikes",
                layer.device_spikes,
                "spikes",
                lower=None if silence_expected else 1,
                note=f"{note}; the reference fired {layer.reference_spikes:,}"
                + (", silence expected" if silence_expected else ""),
            )
            if layer.device_spikes == 0 and layer.reference_spikes == 0:
                reason = f"{note}: silent on the chip and in the reference, nothing to compare"
                for what in ("cosine", "count_error", "rate_distance"):
                    self.skip(name + what, reason)
                continue
            unsure = layer.cosine_cannot_tell(min_cosine)
            blind = layer.cosine_shows_nothing(min_cosine)
            if unsure:
                self.skip(name + "cosine", f"{note}: cannot tell: {unsure}")
            else:
                self(
                    name + "cosine",
                    layer.cosine,
                    lower=min_cosine,
                    marginal=1.0 if blind else None,  # a cosine is at most 1: any pass
                    note=f"{note}; cannot tell: {blind}" if blind else note,
                    better="higher",
                )
            self(
                name + "count_error",
                layer.count_error,
                upper=max_count_error,
                note=note,
                better="lower",
            )
            self(
                name + "rate_distance",
                layer.rate_distance,
                upper=max_rate_distance,
                note=note,
                better="lower",
            )
            if layer.class_agreement is not None:
                self(
                    name + "class_agreement",
                    layer.class_agreement,
                    lower=min_class_agreement,
                    note=note,
                    better="higher",
                )
        self._reports_of(run).agreement = layers
        return layers

    def reset_mode(
        self,
        deployment: Deployment,
        recording: Recording,
        expected: str | None = None,
        dt_us: int | str | None = None,
    ) -> ResetModeVerdict:
        """Replay ``recording`` and check the chip behaves like the reference under the reset
        mode the network was made for (or ``expected``), not the other one. The references
        are event-driven unless ``dt_us`` asks for sinabs' bins (``"auto"``: chosen from the
        input rate); a recording that cannot show the reset is recorded as skipped, with why."""
        verdict, run, references = reset_mode_verdict(deployment, recording, expected, dt_us)
        if verdict.expected is None:
            raise ValueError(
                "the network's neurons do not say how they reset (mixed or unknown reset_fn); "
                "pass expected='subtract' or 'zero'"
            )
        prefix = _prefix(run)
        if not len(run.outputs):
            self.skip(
                f"{prefix}reset_mode_matches",
                f"no monitored layer fired on {deployment.device.info}: a silent chip cannot "
                "show how it resets",
            )
            return verdict
        note = (
            f"deployed with reset {verdict.deployed!r}, made for {verdict.expected!r}, "
            f"behaves like {verdict.behaves_like!r}; references {verdict.reference}"
        )
        for mode, distance in verdict.distance.items():
            self(f"{prefix}{verdict.evidence}_distance_{mode}_reference", distance, note=note)
        if verdict.cannot_tell:
            self.skip(f"{prefix}reset_mode_matches", f"cannot tell: {verdict.cannot_tell}")
        else:
            matches = float(verdict.behaves_like == verdict.expected)
            self(f"{prefix}reset_mode_matches", matches, lower=1.0, note=note, better="higher")
        self(f"{prefix}reset_mode_margin", verdict.margin, note=note, better="higher")
        by_mode = {mode: agreement(run, reference) for mode, reference in references.items()}
        self._reports_of(run).reset_modes = (verdict, by_mode)
        return verdict

    def synops_within_budget(
        self, run: Run, window_us: int = 10_000, compute_sinabs: bool = False
    ) -> SynopsReport | None:
        """Each core's peak SynOps/s over ``window_us`` windows against its budget in the
        device profile; the seed's formula beside it, and sinabs' SNNAnalyzer estimate when
        a reference ran on the same recording (or, with ``compute_sinabs``, always). On a
        time-stepped device, recorded as skipped (returns None)."""
        prefix = _prefix(run)
        if run.dt_us is not None:
            self.skip(f"{prefix}synops_peak", _untimed(run, "SynOps rate"), "SynOps/s")
            return None
        report = synops_report(run, window_us=window_us, compute_sinabs=compute_sinabs)
        for core in report.cores.values():
            start, end = core.peak_window_us
            window = f"{start / 1e3:.1f}–{end / 1e3:.1f} ms"
            note = f"layer {core.layer} on core {core.core}, peak in {window}"
            note += _budget_caveat(run, core.core)
            name = f"{prefix}core{core.core}."
            self(
                name + "synops_peak",
                core.peak_synops_per_s,
                "SynOps/s",
                upper=core.budget_synops_per_s,
                note=note,
                better="lower",
            )
            # more SynOps/s is more load on the core, nearer its budget: higher is worse
            self(name + "synops_mean", core.mean_synops_per_s, "SynOps/s", better="lower")
            self(name + "synops_formula", core.formula_synops_per_s, "SynOps/s", better="lower")
            if core.sinabs_synops_per_s is not None:
                self(name + "synops_sinabs", core.sinabs_synops_per_s, "SynOps/s", better="lower")
        self._reports_of(run).synops = report
        return report

    def power(
        self, run: Run, max_mw: float | None = None, max_uj: float | None = None
    ) -> PowerReport | None:
        """Mean and peak power per rail and in total (mW), and the replay's energy (µJ),
        from the device's power monitor; ``max_mw`` limits the total's peak, ``max_uj`` the
        energy. A device without a monitor records that it has none, and fails when a limit
        was asked for: a limit that cannot be checked must not pass."""
        report = power_report(run)
        prefix = _prefix(run)
        device = run.deployment.device.info
        if report is None:
            wanted = max_mw is not None or max_uj is not None
            self(
                f"{prefix}power_samples",
                0,
                lower=1 if wanted else None,
                note=run.deployment.device.power_problem or f"{device} has no power monitor",
                better="higher",
            )
            return None
        for rail in report.rails:
            name = f"{prefix}power.{rail.rail}"
            self(f"{name}_mean", rail.mean_w * 1e3, "mW", better="lower")
            self(f"{name}_peak", rail.peak_w * 1e3, "mW", better="lower")
        note = f"{len(report.t_us)} samples of {report.period_us / 1e3:g} ms on {device}"
        self(f"{prefix}power_mean", report.mean_w * 1e3, "mW", note=note, better="lower")
        self(
            f"{prefix}power_peak",
            report.peak_w * 1e3,
            "mW",
            upper=max_mw,
            note=note,
            better="lower",
        )
        self(
            f"{prefix}energy", report.energy_j * 1e6, "µJ", upper=max_uj, note=note, better="lower"
        )
        self._reports_of(run).power = report
        return report

    def accuracy(
        self,
        deployment: Deployment,
        dataset: Dataset,
        min_accuracy: float | None = None,
        max_gap: float | None = None,
        min_agreement: float | None = None,
        reference: bool = True,
    ) -> AccuracyReport:
        """Replay every sample of ``dataset``: accuracy with n and its Wilson 95 % interval
        (``min_accuracy`` holds against the lower end), sinabs' accuracy on the same samples
        and the gap (``max_gap``), how often the chip answers as sinabs does (interval's lower
        end against ``min_agreement``), per-class accuracy. Warns when n is too small for a
        limit to be reachable at all."""
        for limit in (min_accuracy, min_agreement):
            problem = small_sample_problem(len(dataset), limit)
            if problem:
                warnings.warn(f"{dataset.describe()}: {problem}", SmallSampleWarning, stacklevel=2)
        report = accuracy_report(deployment, dataset, reference)
        prefix = f"{dataset.name}." if dataset.name else ""
        measurements = accuracy_measurements(report, prefix, min_accuracy, max_gap, min_agreement)
        for measurement in measurements:
            self.add(measurement)
        return report

    def fits_memory(self, deployment: Deployment) -> LintReport:
        """Per core, kernel/neuron/bias words against the core's memory; every lint error
        (memory, shape, threshold_low = 0, a reset that contradicts the network, a layer that
        can never fire) fails as its own measurement ``lint.RULE.layerN`` with its text;
        warnings are counted, their text in the note."""
        report = lint_deployment(deployment)
        for usage in report.cores:
            name = f"core{usage.core}."
            note = f"layer {usage.layer} on core {usage.core}"
            for kind in ("kernel", "neuron", "bias"):
                self(
                    f"{name}{kind}_words",
                    getattr(usage.used, kind),
                    "words",
                    upper=getattr(usage.available, kind),
                    note=note,
                    better="lower",
                )
        for finding in report.errors:
            where = f".layer{finding.layer}" if finding.layer is not None else ""
            self(f"lint.{finding.rule}{where}", 1, upper=0, note=finding.message)
        errors = "; ".join(str(f) for f in report.errors)
        self("lint_errors", len(report.errors), upper=0, note=errors)
        warnings = "; ".join(str(f) for f in report.warnings)
        self("lint_warnings", len(report.warnings), note=warnings, better="lower")
        return report

    def draw(self, folder: Path) -> list[Path]:
        """A PNG per run that a check looked at: delay, SynOps/s per core, chip vs reference,
        power."""
        return [
            plot_run(
                folder / f"run{index}.png",
                f"{reports.run.source or 'replay'} on {reports.run.deployment.device.info}",
                stall=reports.stall,
                synops=reports.synops,
                agreement=reports.agreement,
                reset_modes=reports.reset_modes,
                power=reports.power,
            )
            for index, reports in enumerate(self.reports)
            if reports.stall
            or reports.synops
            or reports.agreement
            or reports.reset_modes
            or reports.power
        ]

    def _reports_of(self, run: Run) -> RunReports:
        for reports in self.reports:
            if reports.run is run:
                return reports
        self.reports.append(RunReports(run))
        return self.reports[-1]


_UNRESOLVED = (
    "its neurons fire more often than a delay can be resolved (a dense layer), so no window "
    "of its outputs showed one; the drain is the verdict there"
)


def _budget_caveat(run: Run, core: int) -> str:
    """What a budget verdict on a real chip rests on, when it is not this chip's measurement."""
    device = run.deployment.device
    if device.info.kind != "real":
        return ""
    profile = device.profile
    if not profile.budget_measured(core):
        return "; budget ASSUMED, not measured on a chip (speck-hil calibrate measures it)"
    calibration = profile.calibration
    if calibration is not None and calibration.serial not in ("", device.info.serial):
        return f"; budget measured on serial {calibration.serial}, not on this board"
    return ""


def _untimed(run: Run, what: str) -> str:
    return (
        f"{run.deployment.device.info} is time-stepped (dt = {run.dt_us} µs): it has no {what}; "
        "it needs a device with time (sim or a real devkit)"
    )


def _prefix(run: Run) -> str:
    return f"{run.source}." if run.source else ""
