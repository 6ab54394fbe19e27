"""Classification accuracy of a deployed network on a labelled dataset, with its interval.

A chip accuracy quoted from 50-100 samples without an interval says little: 94/100 has a
95 % Wilson interval of 0.875-0.972. So every accuracy here comes with n and its Wilson score
interval, from SciPy (``binomtest(...).proportion_ci(method="wilson")``), and a limit is held
against the interval's lower end. The class a run answers is the output channel of the exit
layer that fired most; a silent exit layer, or a tie for the most, answers nothing and counts
as wrong. sinabs' time-stepped reference of the same deployment runs on the same samples, so
the chip-vs-simulation gap is measured on equal terms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from hil.backends.base import Deployment, Run
from hil.measurement import Measurement
from hil.recordings.datasets import Dataset, Sample

CONFIDENCE = 0.95
#: The largest dataset ``smallest_meaningful_n`` looks at.
MAX_N = 100_000


@dataclass(frozen=True)
class Score:
    """``correct`` of ``n`` and the Wilson interval of that proportion."""

    correct: int
    n: int
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, correct: int, n: int, confidence: float = CONFIDENCE) -> Score:
        low, high = wilson_interval(correct, n, confidence)
        return cls(int(correct), int(n), low, high)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    def __str__(self) -> str:
        interval = f"{self.ci_low:.3f}-{self.ci_high:.3f}"
        return f"{self.accuracy:.3f} ({self.correct}/{self.n}, 95 % {interval})"


@dataclass(frozen=True)
class SampleOutcome:
    """What the chip and sinabs answered for one sample (None: no answer)."""

    sample: Sample
    expected: int
    chip: int | None
    sinabs: int | None
    run: Run
    reference: Run | None


@dataclass(frozen=True)
class AccuracyReport:
    dataset: str
    chip: Score
    sinabs: Score | None
    per_class: dict[int, Score]  # on the chip, by class index
    outcomes: tuple[SampleOutcome, ...]
    agreement: Score | None = None  # samples the chip answered as sinabs did (an answer each)

    @property
    def gap(self) -> float | None:
        """sinabs' accuracy minus the chip's, on the same samples."""
        return None if self.sinabs is None else self.sinabs.accuracy - self.chip.accuracy


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``correct``/``n`` (SciPy); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    interval = binomtest(int(correct), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(interval.low), float(interval.high)


def smallest_meaningful_n(limit: float, confidence: float = CONFIDENCE) -> int | None:
    """The fewest samples for which a perfect score's interval clears ``limit``: with fewer,
    no result can pass a limit on the lower end. None when no n up to ``MAX_N`` does."""
    if limit <= 0:
        return 1
    n = 1
    while n <= MAX_N:
        if wilson_interval(n, n, confidence)[0] >= limit:
            # the lower end rises with n: search back for the first n that clears it
            low = n // 2 + 1
            while low < n and wilson_interval(low, low, confidence)[0] < limit:
                low += 1
            return low
        n *= 2
    return None


def predicted_class(outputs: np.ndarray, exit_core: int, n_classes: int) -> int | None:
    """The exit core's most active output channel, or None (silent, or a tie for the most)."""
    features = outputs["feature"][outputs["layer"] == exit_core]
    if not len(features):
        return None
    votes = np.bincount(features.astype(np.int64), minlength=n_classes)
    top = votes.max()
    return int(np.argmax(votes)) if np.count_nonzero(votes == top) == 1 else None


def exit_core(deployment: Deployment) -> int:
    """The core of the network's last layer, whose channels are the classes."""
    mapping = deployment.mapping
    return mapping.core_of(max(mapping.layer2core))


def classify(
    deployment: Deployment,
    dataset: Dataset,
    reference: bool = True,
    dt_us: int = 1000,
    on_sample: Callable[[int, int], None] | None = None,
) -> Iterator[SampleOutcome]:
    """Replay every sample of ``dataset`` on the deployment (and, with ``reference``, run
    sinabs' reference on it); yield what each answered. ``on_sample(done, total)`` reports
    progress."""
    core = exit_core(deployment)
    n_classes = dataset.n_classes
    if core not in deployment.mapping.monitored_cores:
        raise ValueError(
            f"the exit layer's core {core} is not monitored: deploy with monitor='exit' or 'all'"
        )
    for done, sample in enumerate(dataset, start=1):
        recording = sample.load()
        run = deployment.replay(recording)
        ref = deployment.reference(recording, dt_us=dt_us) if reference else None
        yield SampleOutcome(
            sample=sample,
            expected=dataset.class_index(sample.label),
            chip=predicted_class(run.outputs, core, n_classes),
            sinabs=None if ref is None else predicted_class(ref.outputs, core, n_classes),
            run=run,
            reference=ref,
        )
        if on_sample is not None:
            on_sample(done, len(dataset))


def score(outcomes: list[SampleOutcome] | tuple[SampleOutcome, ...], name: str) -> AccuracyReport:
    """Accuracy with its interval on the chip and in sinabs, and per class on the chip."""
    outcomes = tuple(outcomes)
    chip_right = [o.chip == o.expected for o in outcomes]
    sinabs = agreement = None
    if outcomes and all(o.reference is not None for o in outcomes):
        sinabs = Score.of(sum(o.sinabs == o.expected for o in outcomes), len(outcomes))
        same = sum(o.chip is not None and o.chip == o.sinabs for o in outcomes)
        agreement = Score.of(same, len(outcomes))
    per_class = {}
    for label in sorted({o.expected for o in outcomes}):
        mine = [right for o, right in zip(outcomes, chip_right, strict=True) if o.expected == label]
        per_class[label] = Score.of(sum(mine), len(mine))
    return AccuracyReport(
        dataset=name,
        chip=Score.of(sum(chip_right), len(outcomes)),
        sinabs=sinabs,
        per_class=per_class,
        outcomes=outcomes,
        agreement=agreement,
    )


def accuracy_report(
    deployment: Deployment, dataset: Dataset, reference: bool = True, dt_us: int = 1000
) -> AccuracyReport:
    """Replay ``dataset`` and score it (``classify`` then ``score``)."""
    return score(list(classify(deployment, dataset, reference, dt_us)), dataset.describe())


class SmallSampleWarning(UserWarning):
    """Too few samples for an accuracy limit to mean anything."""


def small_sample_problem(n: int, limit: float | None) -> str | None:
    """Why ``n`` samples cannot show an accuracy of at least ``limit``, or None."""
    if limit is None:
        return None
    needed = smallest_meaningful_n(limit)
    if needed is not None and n >= needed:
        return None
    perfect = wilson_interval(n, n)[0]
    need = f"at least {needed} are needed" if needed else "no sample size reaches it"
    return (
        f"{n} samples are too few for the limit {limit:g}: even {n}/{n} correct has a 95 % "
        f"Wilson lower bound of {perfect:.3f}; {need}"
    )


def accuracy_measurements(
    report: AccuracyReport,
    prefix: str,
    min_accuracy: float | None = None,
    max_gap: float | None = None,
    min_agreement: float | None = None,
) -> list[Measurement]:
    """The report as measurements: the limit holds against the interval's lower end."""
    chip = report.chip
    note = f"{chip} on {report.dataset}"
    small = small_sample_problem(chip.n, min_accuracy)
    measurements = [
        Measurement(f"{prefix}accuracy", chip.accuracy, note=note, better="higher"),
        Measurement(
            f"{prefix}accuracy_ci_low",
            chip.ci_low,
            lower=min_accuracy,
            note=note + (f"; {small}" if small else ""),
            better="higher",
        ),
        Measurement(f"{prefix}accuracy_ci_high", chip.ci_high, note=note),
        Measurement(f"{prefix}accuracy_n", chip.n, "samples"),
    ]
    if report.sinabs is not None:
        measurements.append(
            Measurement(
                f"{prefix}sinabs_accuracy",
                report.sinabs.accuracy,
                note=f"{report.sinabs} on the same samples",
                better="higher",
            )
        )
        measurements.append(
            Measurement(
                f"{prefix}accuracy_gap",
                report.gap,
                upper=max_gap,
                note="sinabs' accuracy minus the chip's, on the same samples",
                better="lower",
            )
        )
        measurements.append(
            Measurement(
                f"{prefix}class_agreement_ci_low",
                report.agreement.ci_low,
                lower=min_agreement,
                note=f"chip answered as sinabs did: {report.agreement}",
                better="higher",
            )
        )
    for label, class_score in report.per_class.items():
        measurements.append(
            Measurement(
                f"{prefix}class{label}.accuracy", class_score.accuracy, note=str(class_score)
            )
        )
    return measurements
