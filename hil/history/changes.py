"""Change points in a series of measurements, and which way each one went.

Candidates come from ruptures' binary segmentation (a least-squares cost on the series
scaled by its median absolute deviation, so one penalty fits every unit). Each candidate is
then confirmed the way asv and Apache Otava do it: the runs between its neighbouring
candidates before and after it must differ by a Mann-Whitney U test (p below ``alpha``) and
by an effect size (the relative change of the median, at least ``min_effect``). The weakest
unconfirmed candidate is dropped and the rest tested again, until every one left holds.

A single outlier never makes a change: the smallest segment has ``min_size`` runs, and a
rank test between one odd run and many cannot reach p < 0.01 anyway. The latest run alone
cannot either: a change is reported once ``min_size`` runs after it agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ALPHA = 0.01
MIN_EFFECT = 0.05
MIN_SIZE = 3

Direction = Literal["worse", "better", "changed"]


@dataclass(frozen=True)
class Change:
    """A confirmed change: ``index`` is the first value after it."""

    index: int
    before: float  # median of the runs since the previous change
    after: float  # median of the runs up to the next change
    p: float
    effect: float  # (after - before) / |before|
    direction: Direction


def worse_when(better: str | None, lower: float | None, upper: float | None) -> str | None:
    """Which way is worse: declared (``better``), else from the limits (an upper limit
    only: higher is worse; a lower limit only: lower is worse), else unknown (None)."""
    if better == "lower":
        return "higher"
    if better == "higher":
        return "lower"
    if upper is not None and lower is None:
        return "higher"
    if lower is not None and upper is None:
        return "lower"
    return None


def direction_of(effect: float, worse: str | None) -> Direction:
    if worse is None:
        return "changed"
    rose = effect > 0
    return "worse" if rose == (worse == "higher") else "better"


def change_points(
    values: np.ndarray,
    worse: str | None = None,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    min_size: int = MIN_SIZE,
) -> list[Change]:
    """Confirmed changes in ``values`` (in run order; NaN values are left out and indices
    refer to the array as given)."""
    import ruptures

    values = np.asarray(values, dtype=float)
    kept = np.flatnonzero(np.isfinite(values))
    x = values[kept]
    if len(x) < 2 * min_size:
        return []
    scale = _scale(x)
    if scale == 0:
        return []
    signal = (x - np.median(x)) / scale
    search = ruptures.Binseg(model="l2", min_size=min_size, jump=1).fit(signal)
    candidates = [c for c in search.predict(pen=2 * math.log(len(x))) if c < len(x)]
    while True:
        tested = _test(x, candidates)
        failed = [t for t in tested if not _holds(t, alpha, min_effect)]
        if not failed:
            break
        weakest = max(failed, key=lambda t: (t[1], -abs(t[2])))
        candidates.remove(weakest[0])
    return [
        Change(
            index=int(kept[c]),
            before=before,
            after=after,
            p=p,
            effect=effect,
            direction=direction_of(effect, worse),
        )
        for c, p, effect, before, after in tested
    ]


def _test(x: np.ndarray, candidates: list[int]) -> list[tuple[int, float, float, float, float]]:
    """(candidate, p, effect, median before, median after) between neighbouring candidates."""
    from scipy.stats import mannwhitneyu

    bounds = [0, *candidates, len(x)]
    tested = []
    for i, c in enumerate(candidates, start=1):
        before, after = x[bounds[i - 1] : c], x[c : bounds[i + 1]]
        p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
        m_before, m_after = float(np.median(before)), float(np.median(after))
        tested.append((c, p, _effect(m_before, m_after), m_before, m_after))
    return tested


def _holds(tested: tuple, alpha: float, min_effect: float) -> bool:
    _, p, effect, _, _ = tested
    return p < alpha and abs(effect) >= min_effect


def _effect(before: float, after: float) -> float:
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _scale(x: np.ndarray) -> float:
    """The noise level: median absolute deviation as a normal σ, else the plain σ (a
    series of mostly equal values has no MAD)."""
    mad = float(np.median(np.abs(x - np.median(x)))) * 1.4826
    return mad if mad > 0 else float(np.std(x))
