"""Accuracy on a labelled dataset: the Wilson interval, the limit on its lower end, the
small-n warning, and ``measure.accuracy`` failing a network that answers one class."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from hil import backends
from hil.analysis.accuracy import (
    SmallSampleWarning,
    predicted_class,
    smallest_meaningful_n,
    wilson_interval,
)
from hil.analysis.checks import HilMeasure
from hil.conversion.recipe import Converter, dataset_frames
from hil.events import SPIKE_DTYPE
from hil.examples import INPUT_SHAPE_DIGITS, digits_ann, one_class_ann
from hil.recordings.datasets import dataset

Z95 = 1.959963984540054


def closed_form_wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927), written out: the interval SciPy's method="wilson" must give."""
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(94, 100), (0, 10), (10, 10), (7, 20), (1, 3)])
def test_wilson_interval_is_scipys(k, n):
    scipy_ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((scipy_ci.low, scipy_ci.high), abs=1e-12)
    assert wilson_interval(k, n) == pytest.approx(closed_form_wilson(k, n), abs=1e-9)


def test_94_of_100_is_the_issues_interval():
    low, high = wilson_interval(94, 100)
    assert (round(low, 3), round(high, 3)) == (0.875, 0.972)


@pytest.mark.parametrize("limit", [0.5, 0.8, 0.9, 0.95])
def test_smallest_meaningful_n_is_where_a_perfect_score_first_clears_the_limit(limit):
    n = smallest_meaningful_n(limit)
    assert wilson_interval(n, n)[0] >= limit
    assert wilson_interval(n - 1, n - 1)[0] < limit


def test_a_tie_or_silence_answers_nothing():
    outputs = np.zeros(4, SPIKE_DTYPE)
    outputs["layer"] = 3
    outputs["feature"] = [1, 1, 2, 2]
    assert predicted_class(outputs, 3, 10) is None
    assert predicted_class(outputs[:3], 3, 10) == 1
    assert predicted_class(outputs, 2, 10) is None  # nothing from the exit core


@pytest.fixture(scope="module")
def sim():
    with backends.open_device("sim") as device:
        yield device


@pytest.fixture(scope="module")
def digits():
    return dataset("digits", split="test").per_class(1)


def _deployed(sim, ann, digits):
    snn = Converter(ann, dataset_frames(digits, INPUT_SHAPE_DIGITS)).snn(10.0)
    return sim.deploy(snn, input_shape=INPUT_SHAPE_DIGITS, monitor="all")


def test_accuracy_fails_a_network_that_answers_one_class(sim, digits):
    measure = HilMeasure()
    report = measure.accuracy(_deployed(sim, one_class_ann(3), digits), digits, min_accuracy=0.5)
    answers = {outcome.chip for outcome in report.outcomes}
    assert answers <= {3, None}
    assert report.chip.accuracy <= 0.1
    failed = {m.name for m in measure.failures}
    assert "digits.accuracy_ci_low" in failed


def test_accuracy_passes_the_trained_network(sim, digits):
    measure = HilMeasure()
    report = measure.accuracy(_deployed(sim, digits_ann(), digits), digits, min_accuracy=0.5)
    assert not measure.failures, [str(m) for m in measure.failures]
    assert report.chip.n == 10 and report.chip.ci_low >= 0.5
    assert report.sinabs is not None and report.gap == pytest.approx(
        report.sinabs.accuracy - report.chip.accuracy
    )
    assert set(report.per_class) == set(range(10))
    names = {m.name for m in measure.measurements}
    assert {"digits.accuracy", "digits.accuracy_gap", "digits.class0.accuracy"} <= names


def test_a_limit_that_a_few_samples_cannot_reach_warns_and_fails(sim, digits):
    """Three samples, even all right, have a Wilson lower end of 0.44: a limit of 0.5 can
    never pass, and the test is told why instead of only seeing a FAIL."""
    measure = HilMeasure()
    few = type(digits)(digits.name, digits.split, digits.folder, digits.samples[:3])
    with pytest.warns(SmallSampleWarning, match="3 samples are too few for the limit 0.5"):
        measure.accuracy(_deployed(sim, digits_ann(), digits), few, min_accuracy=0.5)
    assert "digits.accuracy_ci_low" in {m.name for m in measure.failures}
