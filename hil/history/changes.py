"""Change points in a series of measurements, and which way each one went.

Nightly values are not independent: a lab drifts slowly (temperature, a board warming up over
weeks), so tonight's value is close to last night's, and a weekly rhythm (weekend nights on
a quiet network) repeats. A test that assumes independent nights takes such wander for
changes. Here:

1. a weekly pattern (by the run's weekday) is removed when a one-way ANOVA (SciPy's F
   distribution) finds one;
2. candidates come from seeded binary segmentation of the least-squares cost (cumulative
   sums over intervals at every scale, so a 2000-run series costs a millisecond or two, and
   a five-run episode inside it is seen by an interval its size), with a penalty in units of
   the run-to-run noise, raised for a series whose differences show autocorrelation;
3. each candidate must hold between its neighbouring candidates by a generalised
   least-squares test of a step under AR(1) noise (Prais-Winsten: both sides whitened with
   the series' lag-1 autocorrelation, then Student's t from SciPy), with the autocorrelation
   estimated from the residuals of the segmentation and corrected for its small-sample bias;
4. and by an effect measured cautiously (from the median before to the third of the runs
   after that moved least): relative (``min_effect``) when the level before is far from
   zero, else absolute (``MIN_SIGMA`` noise levels);
5. every stretch between the steps that held is tested for a ramp (a slow drift, which the
   step test under AR(1) noise all but whitens away), by the same generalised least
   squares with a ramp for a step, and dated at the first run its fitted ramp has moved by
   the smallest change that counts.

The weakest unconfirmed candidate is dropped and the rest tested again until every one left
holds; then the autocorrelation is estimated again from the changes that held, until they
are the ones it came from. A single outlier never makes a change (the cautious effect
ignores it), and the smallest segment has ``min_size`` runs, so the latest run alone cannot
either. ruptures' segmentations were the first choice; its binary segmentation costs 0.1 s
on a 2000-run series (200 series: 20 s) and has no seeded variant.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ALPHA = 0.01
MIN_EFFECT = 0.05
MIN_SIGMA = 1.5  # an absolute change must be this many noise levels, near zero
MIN_SIZE = 3
PHI_MAX = 0.95
NEAR = 100  # runs either side of a change its effect is estimated from
#: a baseline is "far from zero" when it is at least this many noise levels away from it
FAR_FROM_ZERO = 10.0

Direction = Literal["worse", "better", "changed"]
Kind = Literal["step", "drift"]
#: which way a measurement gets worse
WORSE = ("higher", "lower", "away_from_zero", "away_from_target")


@dataclass(frozen=True)
class Change:
    """A confirmed change: ``index`` is the first value after it."""

    index: int
    before: float  # median of the runs since the previous change
    after: float  # median of the runs up to the next change
    p: float
    effect: float  # (after - before) / |before|, or after - before near zero
    direction: Direction
    relative: bool = True  # ``effect`` is relative (the baseline is far from zero)
    noise: float = 0.0  # the series' run-to-run noise level (a σ)
    #: a ``step`` (``after``: the median up to the next change) or a ``drift`` (a ramp from
    #: ``index`` on; ``after``: the level it reached by the next change or the latest run)
    kind: Kind = "step"

    def near(self, level: float, value: float, min_effect: float = MIN_EFFECT) -> bool:
        """``value`` is no real change from ``level``: within the smallest effect that
        counts (relative far from zero, else in noise levels)."""
        if abs(level) >= FAR_FROM_ZERO * self.noise:
            return abs(value - level) < min_effect * abs(level)
        return abs(value - level) < MIN_SIGMA * self.noise

    def effect_text(self, unit: str = "") -> str:
        """``+7.5%``, ``x149`` for a large relative change, ``+0.48 µs/s`` near zero."""
        if not self.relative:
            return f"{self.effect:+.3g} {unit}".rstrip()
        if abs(self.effect) >= 9:
            return f"x{self.after / self.before:.3g}" if self.before else "x inf"
        return f"{self.effect:+.1%}"


def worse_when(
    better: str | None, lower: float | None, upper: float | None, target: float | None = None
) -> str | None:
    """Which way is worse: declared (``better``: lower, higher, zero or target), else from
    the limits (an upper limit only: higher is worse; a lower limit only: lower is worse;
    both: farther from their middle), else unknown (None)."""
    declared = {
        "lower": "higher",
        "higher": "lower",
        "zero": "away_from_zero",
        "target": "away_from_target",
    }
    if better in declared:
        return declared[better]
    if upper is not None and lower is None:
        return "higher"
    if lower is not None and upper is None:
        return "lower"
    return None


def direction_of(
    before: float, after: float, worse: str | None, target: float | None = None
) -> Direction:
    """Worse, better or (unknown direction) changed, for a move from ``before`` to ``after``."""
    if worse is None or (worse == "away_from_target" and target is None):
        return "changed"
    if worse == "away_from_zero":
        return "worse" if abs(after) > abs(before) else "better"
    if worse == "away_from_target":
        return "worse" if abs(after - target) > abs(before - target) else "better"
    rose = after > before
    return "worse" if rose == (worse == "higher") else "better"


def change_points(
    values: np.ndarray,
    worse: str | None = None,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    min_size: int = MIN_SIZE,
    weekdays: np.ndarray | None = None,
    target: float | None = None,
) -> list[Change]:
    """Confirmed changes in ``values`` (in run order; NaN values are left out and indices
    refer to the array as given). ``weekdays`` (0-6 per value) lets a weekly pattern be
    recognised as no change."""
    values = np.asarray(values, dtype=float)
    kept = np.flatnonzero(np.isfinite(values))
    x = values[kept]
    if len(x) < 2 * min_size:
        return []
    if weekdays is not None:
        x = _without_weekly_pattern(x, np.asarray(weekdays)[kept])
    sigma = noise_level(x)
    if sigma == 0:
        return []
    phi = _phi_of_differences(x)
    penalty = 2.0 * math.log(len(x)) * (1 + phi) / (1 - phi)
    steps = _select(x, _seeded_binseg(x / sigma, penalty, min_size), sigma, alpha, min_effect)
    changes = []
    for c, p, before, after, kind in _with_drifts(x, steps, sigma, alpha, min_effect, min_size):
        relative = abs(before) >= FAR_FROM_ZERO * sigma
        effect = (after - before) / abs(before) if relative else after - before
        changes.append(
            Change(
                index=int(kept[c]),
                before=before,
                after=after,
                p=p,
                effect=effect,
                direction=direction_of(before, after, worse, target),
                relative=relative,
                noise=sigma,
                kind=kind,
            )
        )
    return changes


def noise_level(x: np.ndarray) -> float:
    """The run-to-run noise: the median absolute difference of neighbouring runs as a
    normal σ (a level shift moves one difference only); the plain σ of the differences
    when most of them are zero."""
    d = np.diff(x)
    if len(d) == 0:
        return 0.0
    mad = float(np.median(np.abs(d - np.median(d)))) * 1.4826 / math.sqrt(2)
    return mad if mad > 0 else float(np.std(d)) / math.sqrt(2)


def _large(
    before: np.ndarray, after: np.ndarray, level: float, sigma: float, min_effect: float
) -> bool:
    """The shift is large enough, measured cautiously: from the median before to the third
    of the runs after it that moved least (their 1/3 quantile for a rise, 2/3 for a fall),
    near the change, so a single outlier among the first runs after it cannot carry it;
    relative to ``level`` far from zero, else in noise levels."""
    near_before, near_after = before[-NEAR:], after[:NEAR]
    centre = float(np.median(near_before))
    rise = float(np.median(near_after)) > centre
    shift = float(np.quantile(near_after, 1 / 3 if rise else 2 / 3)) - centre
    if (shift > 0) != rise:
        return False
    if abs(level) >= FAR_FROM_ZERO * sigma:
        return abs(shift) >= min_effect * abs(level)
    return abs(shift) >= MIN_SIGMA * sigma


def _seeded_binseg(x: np.ndarray, penalty: float, min_size: int) -> list[int]:
    """Candidate split points, sorted: seeded binary segmentation (Kovács et al., 2020).
    Intervals at every scale (halving, half-overlapping) each propose their best
    least-squares split; the strongest above ``penalty`` that holds no split yet is taken,
    so a short episode inside a long series is seen by an interval its own size."""
    n = len(x)
    s = np.concatenate([[0.0], np.cumsum(x)])
    starts, ends = [], []
    length = n
    while length >= 2 * min_size:
        step = max(1, length // 2)
        first = np.arange(0, max(n - length, 0) + 1, step)
        if first[-1] + length < n:
            first = np.append(first, n - length)
        starts.append(first)
        ends.append(first + length)
        if length == 2 * min_size:
            break
        length = max(length // 2, 2 * min_size)  # down to the shortest a change fits in
    found: list[tuple[float, int, int, int]] = []
    for first, last in zip(starts, ends, strict=True):
        m = int(last[0] - first[0])
        k = np.arange(min_size, m - min_size + 1)
        left = s[first[:, None] + k[None, :]] - s[first][:, None]
        total = (s[last] - s[first])[:, None]
        gain = left**2 / k + (total - left) ** 2 / (m - k) - total**2 / m
        best = np.argmax(gain, axis=1)
        top = gain[np.arange(len(first)), best]
        for i in np.flatnonzero(top > penalty):
            found.append((float(top[i]), int(first[i]), int(last[i]), int(first[i] + k[best[i]])))
    splits: list[int] = []
    for _, a, b, split in sorted(found, reverse=True):
        if any(a < t < b or abs(t - split) < min_size for t in splits):
            continue
        splits.append(split)
    return _refined(x, sorted(splits), min_size)


def _refined(x: np.ndarray, splits: list[int], min_size: int, reach: int = 3) -> list[int]:
    """Each split moved (by up to ``reach`` runs) to the best least-squares place between
    its neighbours: an interval's best split may sit a run off when its own length kept the
    true place out of reach."""
    s = np.concatenate([[0.0], np.cumsum(x)])
    for _ in range(2):
        for i, c in enumerate(splits):
            a = splits[i - 1] if i else 0
            b = splits[i + 1] if i + 1 < len(splits) else len(x)
            k = np.arange(max(a + min_size, c - reach), min(b - min_size, c + reach) + 1)
            if len(k) == 0:
                continue
            left, total, n = s[k] - s[a], s[b] - s[a], b - a
            gain = left**2 / (k - a) + (total - left) ** 2 / (b - k) - total**2 / n
            splits[i] = int(k[np.argmax(gain)])
    return splits


def _select(
    x: np.ndarray, candidates: list[int], sigma: float, alpha: float, min_effect: float
) -> list[tuple[int, float, float, float]]:
    """The candidates that hold, as (index, p, median before, median after).

    Backward elimination at a fixed autocorrelation: every candidate is tested between its
    neighbouring candidates and the weakest failing one dropped (only its neighbours are
    tested again), until all hold. The autocorrelation comes from the residuals about the
    candidates; with the changes that held it is estimated again (fewer segments absorb
    less of a wander, so it can only grow) and the elimination repeated, until the changes
    that hold are the ones it was estimated from."""
    kept = list(candidates)
    for _ in range(8):
        phi = _phi(x, kept)
        tests = {c: _holds(x, kept, c, phi, sigma, alpha, min_effect) for c in kept}
        while True:
            failed = [t for t in tests.values() if not t[4]]
            if not failed:
                break
            weakest = max(failed, key=lambda t: t[1])[0]
            i = kept.index(weakest)
            kept.remove(weakest)
            del tests[weakest]
            for c in kept[max(i - 1, 0) : i + 1]:
                tests[c] = _holds(x, kept, c, phi, sigma, alpha, min_effect)
        if not kept or _phi(x, kept) <= phi + 0.01:
            break
    return [tests[c][:4] for c in kept]


def _holds(
    x: np.ndarray,
    splits: list[int],
    c: int,
    phi: float,
    sigma: float,
    alpha: float,
    min_effect: float,
) -> tuple[int, float, float, float, bool]:
    """(c, p, median before, median after, holds) of the change at ``c`` between its
    neighbours in ``splits``: it holds when significant (p, Bonferroni-corrected for the
    positions a split of that stretch could take, below ``alpha``) and large enough."""
    i = splits.index(c)
    a = splits[i - 1] if i else 0
    b = splits[i + 1] if i + 1 < len(splits) else len(x)
    y = x[a:b]
    split = c - a
    positions = max(len(y) - 2 * MIN_SIZE + 1, 1)
    p = min(1.0, step_p(y, split, phi) * math.sqrt(positions))
    if p >= alpha:
        return (c, p, math.nan, math.nan, False)
    before, after = y[:split], y[split:]
    m_before, m_after = float(np.median(before)), float(np.median(after))
    # while few runs follow it, the runs either side of a change agree with their side: it
    # is dated at the first run that moved, never at the last one that had not (a gradual
    # change has runs between the levels, and is dated once more runs follow)
    dated = len(after) > 2 * MIN_SIZE or (
        abs(after[0] - m_after) < abs(after[0] - m_before)
        and abs(before[-1] - m_before) < abs(before[-1] - m_after)
    )
    large = dated and _large(before, after, m_before, sigma, min_effect)
    return (c, p if large else 1.0, m_before, m_after, large)


def _phi_of_differences(x: np.ndarray) -> float:
    """A rough autocorrelation that a level shift cannot raise, for the candidates' penalty:
    from the lag-1 autocorrelation ρ of the run-to-run differences (ρ = −(1 − φ)/2 for
    AR(1) noise), with differences beyond 4 noise levels clipped (a shift is one of them)."""
    d = np.diff(x)
    if len(d) < 3:
        return 0.0
    centre = np.median(d)
    spread = 4 * 1.4826 * float(np.median(np.abs(d - centre))) or float(np.std(d))
    if spread == 0:
        return 0.0
    d = np.clip(d - centre, -spread, spread)
    rho = float(d[1:] @ d[:-1]) / float(d @ d)
    return min(max(1 + 2 * rho, 0.0), 0.9)


def _phi(x: np.ndarray, candidates: list[int]) -> float:
    """The lag-1 autocorrelation of the noise: of the residuals from each segment's mean,
    pooled, with the first-order small-sample bias of an AR(1) estimate taken out
    (Kendall: E[φ̂] ≈ φ − (1 + 3φ)/n per segment whose mean was estimated)."""
    bounds = [0, *candidates, len(x)]
    num = den = 0.0
    for a, b in itertools.pairwise(bounds):
        r = x[a:b] - x[a:b].mean()
        num += float(np.dot(r[1:], r[:-1]))
        den += float(np.dot(r, r))
    if den == 0:
        return 0.0
    raw = num / den
    share = (len(bounds) - 1) / len(x)  # segments per run
    phi = (raw + share) / max(1 - 3 * share, 0.1)
    return float(min(max(phi, 0.0), PHI_MAX))


def step_p(y: np.ndarray, split: int, phi: float) -> float:
    """Two-sided p of a step at ``split`` in ``y`` under AR(1) noise of autocorrelation
    ``phi``: Prais-Winsten generalised least squares of ``y = μ + δ·[t ≥ split]`` (both
    columns and ``y`` whitened, then ordinary least squares and Student's t)."""
    from scipy.special import stdtr

    n = len(y)
    wy, w1 = _whitened(y, phi)
    ws = np.zeros(n)
    ws[split] = 1.0  # the whitened step: 1 where it starts, 1 - φ after
    ws[split + 1 :] = 1 - phi
    g11, g12, g22 = w1 @ w1, w1 @ ws, ws @ ws
    det = g11 * g22 - g12 * g12
    if det <= 0:
        return 1.0
    r1, r2 = w1 @ wy, ws @ wy
    mu = (g22 * r1 - g12 * r2) / det
    delta = (g11 * r2 - g12 * r1) / det
    residual = wy - mu * w1 - delta * ws
    dof = n - 2
    s2 = float(residual @ residual) / dof
    if s2 <= 0:
        return 0.0 if delta != 0 else 1.0
    t = delta / math.sqrt(s2 * g11 / det)
    return float(2 * stdtr(dof, -abs(t)))


def _whitened(y: np.ndarray, phi: float) -> tuple[np.ndarray, np.ndarray]:
    """Prais-Winsten's whitening under AR(1) noise of autocorrelation ``phi``: ``y`` and the
    level's column (the first run scaled by √(1 − φ²), each later one less φ times the one
    before), which the step and the ramp tests share."""
    first = math.sqrt(1 - phi**2)
    wy = np.empty(len(y))
    wy[0] = first * y[0]
    wy[1:] = y[1:] - phi * y[:-1]
    w1 = np.full(len(y), 1 - phi)
    w1[0] = first
    return wy, w1


def _without_weekly_pattern(x: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    """``x`` less its mean per weekday, when at least four weeks show one (one-way ANOVA on
    the run-to-run differences' residuals, p < 0.001); else ``x`` as it is."""
    if len(x) < 28:
        return x
    detrended = x - _running_median(x, 7)
    if _weekday_p(detrended, weekdays) >= 0.001:
        return x
    profile = np.zeros(7)
    for d in range(7):
        if np.any(weekdays == d):
            profile[d] = np.median(detrended[weekdays == d])
    return x - (profile - profile.mean())[weekdays]


def _weekday_p(x: np.ndarray, weekdays: np.ndarray) -> float:
    """p of a one-way ANOVA of ``x`` by weekday (weekdays with at least 3 runs), from
    SciPy's F distribution."""
    from scipy.special import fdtrc

    counts = np.bincount(weekdays, minlength=7).astype(float)
    used = counts >= 3
    if used.sum() < 2:
        return 1.0
    keep = used[weekdays]
    x, weekdays = x[keep], weekdays[keep]
    counts = counts[used]
    means = np.bincount(weekdays, weights=x, minlength=7)[used] / counts
    grand = x.mean()
    between = float(counts @ (means - grand) ** 2)
    within = float(x @ x) - float(counts @ means**2)
    groups, n = len(counts), len(x)
    if within <= 0 or n <= groups:
        return 0.0 if between > 0 else 1.0
    f = (between / (groups - 1)) / (within / (n - groups))
    return float(fdtrc(groups - 1, n - groups, f))


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(x, size=width, mode="nearest")


def _with_drifts(
    x: np.ndarray,
    steps: list[tuple[int, float, float, float]],
    sigma: float,
    alpha: float,
    min_effect: float,
    min_size: int,
) -> list[tuple[int, float, float, float, str]]:
    """The confirmed steps and the drifts between them, as (index, p, median before, level
    after, kind), in run order. A slow drift is a trend, which the step test under AR(1)
    noise all but whitens away (its whitened step is 1 − φ high after the first run), so
    every stretch between steps is also tested for a ramp (``_drift``). Binary segmentation
    cuts a long ramp into a staircase of steps; a step next to a drift in the same
    direction is taken as part of it and the drift tested again over both stretches."""
    steps = list(steps)
    while True:
        bounds = [0, *(c for c, *_ in steps), len(x)]
        drifts = [
            _drift(x, a, b, sigma, alpha, min_effect, min_size)
            for a, b in itertools.pairwise(bounds)
        ]
        absorbed = next(
            (
                j
                for i, drift in enumerate(drifts)
                if drift is not None
                for j in (i - 1, i)
                if 0 <= j < len(steps) and _rises(steps[j]) == _rises(drift)
            ),
            None,
        )
        if absorbed is None:
            found = [(*step, "step") for step in steps] + [(*d, "drift") for d in drifts if d]
            return sorted(found)
        merged = _drift(
            x, bounds[absorbed], bounds[absorbed + 2], sigma, alpha, min_effect, min_size
        )
        if merged is None or _rises(merged) != _rises(steps[absorbed]):
            found = [(*step, "step") for step in steps] + [(*d, "drift") for d in drifts if d]
            return sorted(found)
        del steps[absorbed]


def _rises(change: tuple[int, float, float, float]) -> bool:
    return change[3] > change[2]


def _drift(
    x: np.ndarray, a: int, b: int, sigma: float, alpha: float, min_effect: float, min_size: int
) -> tuple[int, float, float, float] | None:
    """A ramp in ``x[a:b]`` (index, p, median before, level reached), if one holds: by
    ``ramp``, with the same Bonferroni-style correction for the positions it could start
    at as a step and the same cautious effect (from the median before to the third of the
    runs from its date on that moved least). A ramp's kink is poorly placed (its first runs are
    within the noise, and AR(1) noise lets the fit start it ten or twenty runs early), so it
    is dated at the first run where the fitted ramp has moved by the smallest change that
    counts: the first run that is off the old level, never one the fit merely extends to;
    with ``min_size`` runs from there on, as for a step."""
    y = x[a:b]
    if len(y) < 4 * min_size:
        return None
    start, p, mu, beta = ramp(y, min_size)
    p = min(1.0, p * math.sqrt(len(y) - 2 * min_size + 1))
    if p >= alpha:
        return None
    before = y[:start]
    centre = float(np.median(before))
    smallest = (
        min_effect * abs(centre) if abs(centre) >= FAR_FROM_ZERO * sigma else MIN_SIGMA * sigma
    )
    moved = start + max(math.ceil(smallest / abs(beta)) - 1, 0)
    if moved > len(y) - min_size or not _large(before, y[moved:], centre, sigma, min_effect):
        return None  # too few runs have moved yet (a late step, if anything), or not enough
    if _step_fits_better(y, start, min_size):
        return None  # a step the step test did not confirm, not a ramp
    return (a + moved, p, centre, mu + beta * (len(y) - start))


def ramp(y: np.ndarray, min_size: int = MIN_SIZE) -> tuple[int, float, float, float]:
    """The most significant ramp in ``y`` under AR(1) noise: (its first run, two-sided p,
    level before it μ, slope β per run). ``y = μ + β·max(0, t − start + 1)``, fitted by
    Prais-Winsten generalised least squares for every start at once (the whitened ramp is
    linear in t after its start, so suffix sums give every fit), with the autocorrelation
    from the residuals of the best fit (outliers clipped, small-sample bias taken out),
    three times, starting from that of the differences."""
    from scipy.special import stdtr

    phi = _phi_of_differences(y)
    start, t, dof, mu, beta = _ramp_fits(y, phi, min_size)
    for _ in range(3):
        phi = _phi_of_residuals(y - _ramp_fitted(y, start), parameters=3)
        previous, (start, t, dof, mu, beta) = start, _ramp_fits(y, phi, min_size)
        if start == previous:  # the same ramp gives the same autocorrelation again
            break
    return start, float(2 * stdtr(dof, -abs(t))), mu, beta


def _ramp_fits(y: np.ndarray, phi: float, min_size: int) -> tuple[int, float, int, float, float]:
    """(start, t of β, degrees of freedom, μ, β) of the best ramp at ``phi``."""
    n = len(y)
    wy, w1 = _whitened(y, phi)
    t = np.arange(n, dtype=float)

    def suffix(v: np.ndarray) -> np.ndarray:
        return np.cumsum(v[::-1])[::-1]

    start = np.arange(min_size, n - min_size + 1)
    # the whitened ramp: 0 before its start, then a·t + b (a = 1 − φ, b = 1 − a·start)
    a, b = 1 - phi, 1 - (1 - phi) * start
    count, s1 = (n - start).astype(float), suffix(t)[start]
    s2, sy, sty = suffix(t * t)[start], suffix(wy)[start], suffix(t * wy)[start]
    g11, r1 = float(w1 @ w1), float(w1 @ wy)
    g12 = a * (a * s1 + b * count)  # w1 is 1 − φ from the second run on
    g22 = a * a * s2 + 2 * a * b * s1 + b * b * count
    r2 = a * sty + b * sy
    det = g11 * g22 - g12 * g12
    mu = (g22 * r1 - g12 * r2) / det
    beta = (g11 * r2 - g12 * r1) / det
    dof = n - 3
    s2_resid = np.maximum((float(wy @ wy) - mu * r1 - beta * r2) / dof, 1e-300)
    tstat = beta / np.sqrt(s2_resid * g11 / det)
    best = int(np.argmax(np.abs(tstat)))
    return int(start[best]), float(tstat[best]), dof, float(mu[best]), float(beta[best])


def _step_fits_better(y: np.ndarray, start: int, min_size: int) -> bool:
    """The best single step (at least ``min_size - 1`` runs after it, as a late step
    shows) leaves no more squared error than the ramp from ``start``."""
    s, s2 = np.concatenate([[0.0], np.cumsum(y)]), float(y @ y)
    n = len(y)
    k = np.arange(min_size, n - min_size + 2)
    step_error = s2 - s[k] ** 2 / k - (s[n] - s[k]) ** 2 / (n - k)
    ramp_error = float(np.sum((y - _ramp_fitted(y, start)) ** 2))
    return float(step_error.min()) <= ramp_error


def _ramp_fitted(y: np.ndarray, start: int) -> np.ndarray:
    """The least-squares ramp from ``start`` (its residuals estimate the autocorrelation)."""
    ramp_column = np.maximum(np.arange(len(y)) - start + 1, 0).astype(float)
    centred = ramp_column - ramp_column.mean()
    slope = float(centred @ (y - y.mean())) / float(centred @ centred)
    return y.mean() + slope * centred


def _phi_of_residuals(r: np.ndarray, parameters: int) -> float:
    """The lag-1 autocorrelation of residuals of a fit with ``parameters`` parameters,
    beyond 4 robust σ clipped (an outlier would pull it down), with the small-sample bias
    taken out as in ``_phi``."""
    spread = 4 * 1.4826 * float(np.median(np.abs(r - np.median(r)))) or float(np.std(r))
    if spread == 0:
        return 0.0
    r = np.clip(r, -spread, spread)
    raw = float(r[1:] @ r[:-1]) / float(r @ r)
    share = parameters / len(r)
    return float(min(max((raw + share) / max(1 - 3 * share, 0.1), 0.0), PHI_MAX))
