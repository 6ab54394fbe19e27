"""The change-point detector: which way is worse, significance and effect size both needed,
and its precision and recall on synthetic histories with known changes."""

from __future__ import annotations

import numpy as np
import pytest

from hil.history.changes import change_points, direction_of, worse_when
from hil.history.synthetic import evaluate, history, precision_recall


def test_which_way_is_worse():
    assert worse_when(None, None, 10.0) == "higher"
    assert worse_when(None, 0.9, None) == "lower"
    assert worse_when("lower", 0.9, None) == "higher"  # declared beats the limits
    assert worse_when("higher", None, None) == "lower"
    assert worse_when(None, 0.0, 1.0) is None
    assert worse_when(None, None, None) is None
    assert direction_of(+0.1, "higher") == "worse"
    assert direction_of(-0.1, "higher") == "better"
    assert direction_of(-0.1, "lower") == "worse"
    assert direction_of(+0.1, None) == "changed"


def test_a_shift_is_found_where_it_starts_with_its_medians():
    values = history("shift", seed=1)
    [change] = change_points(values, worse="higher")
    assert abs(change.index - 40) <= 1
    assert change.direction == "worse"
    assert change.p < 0.01
    assert change.before == pytest.approx(np.median(values[: change.index]))
    assert change.after == pytest.approx(np.median(values[change.index :]))


def test_a_change_needs_the_effect_size_and_the_significance():
    values = history("shift", seed=1)  # a 7.5 % shift
    assert change_points(values, min_effect=0.10) == []
    assert len(change_points(values, min_effect=0.05)) == 1
    small = 100 + 0.1 * np.random.default_rng(0).standard_normal(60)
    small[40:] += 0.5  # hugely significant, but 0.5 %
    assert change_points(small) == []
    assert len(change_points(small, min_effect=0.004)) == 1
    few = np.array([100.0] * 20 + [120.0, 121.0, 119.0])  # 3 runs after: p ~ 4e-6
    assert len(change_points(few)) == 1
    assert change_points(few, alpha=1e-6) == []


def test_an_outlier_a_nan_and_a_short_series_are_no_change():
    values = history("outlier", seed=3)
    assert change_points(values) == []
    values[10] = np.nan
    assert change_points(values) == []
    assert change_points(np.array([1.0, 2.0, 3.0])) == []
    assert change_points(np.full(30, 5.0)) == []


def test_without_limits_a_change_is_reported_as_changed():
    [change] = change_points(history("improvement", seed=2), worse=None)
    assert change.direction == "changed"


def test_precision_and_recall_on_synthetic_histories():
    """The figures in the README's "Nightly history" section (100 seeds per scenario)."""
    scores = evaluate(range(100))
    precision, recall = precision_recall(scores)
    assert precision >= 0.95 and recall >= 0.9
    assert scores["shift"].hits >= 95 and scores["improvement"].hits >= 95
    assert scores["noise"].false_alarms <= 3 and scores["outlier"].false_alarms <= 3
    errors = np.abs(scores["shift"].index_errors)
    assert np.percentile(errors, 90) <= 2
