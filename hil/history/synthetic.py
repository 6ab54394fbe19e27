"""Synthetic histories with known changes, to measure the detector against the truth.

Every history has 60 runs of a value around 100 with a normal noise of σ = 2.5 (2.5 %), and
an upper limit (higher is worse). Scenarios:

- ``shift``: a rise of 3 σ from run 40 on (a regression starting at 40);
- ``drift``: a rise growing linearly from run 20 to 4 σ at run 59 (a regression somewhere
  in 20..59);
- ``outlier``: one run 6 σ high at run 40 (no change);
- ``improvement``: a fall of 3 σ from run 40 on (a change, and a better one);
- ``noise``: nothing happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hil.history.changes import ALPHA, MIN_EFFECT, change_points

RUNS = 60
LEVEL = 100.0
SIGMA = 2.5
SCENARIOS = ("shift", "drift", "outlier", "improvement", "noise")
#: where each scenario's true change lies (first, last possible run) and its direction
TRUTH: dict[str, tuple[int, int, str] | None] = {
    "shift": (40, 40, "worse"),
    "drift": (20, 59, "worse"),
    "outlier": None,
    "improvement": (40, 40, "better"),
    "noise": None,
}
TOLERANCE = 3  # a found change within this many runs of a sharp true one is a hit


def history(scenario: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = LEVEL + SIGMA * rng.standard_normal(RUNS)
    if scenario == "shift":
        values[40:] += 3 * SIGMA
    elif scenario == "drift":
        values[20:] += np.linspace(0, 4 * SIGMA, RUNS - 20)
    elif scenario == "outlier":
        values[40] += 6 * SIGMA
    elif scenario == "improvement":
        values[40:] -= 3 * SIGMA
    elif scenario != "noise":
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return values


@dataclass
class Score:
    """Hits, misses and false alarms of one scenario over many seeds."""

    histories: int = 0
    hits: int = 0  # the true change found, in the right direction
    misses: int = 0
    false_alarms: int = 0  # changes reported where none is, or far from the true one
    index_errors: list[int] = field(default_factory=list)  # found - true, sharp changes only


def evaluate(
    seeds: range, alpha: float = ALPHA, min_effect: float = MIN_EFFECT
) -> dict[str, Score]:
    scores = {name: Score() for name in SCENARIOS}
    for scenario in SCENARIOS:
        score = scores[scenario]
        truth = TRUTH[scenario]
        for seed in seeds:
            found = change_points(
                history(scenario, seed), worse="higher", alpha=alpha, min_effect=min_effect
            )
            score.histories += 1
            if truth is None:
                score.false_alarms += len(found)
                continue
            first, last, direction = truth
            hits = [
                c
                for c in found
                if first - TOLERANCE <= c.index <= last + (TOLERANCE if first == last else 0)
                and c.direction == direction
            ]
            sharp = first == last
            if hits:
                score.hits += 1
                if sharp:
                    best = min(hits, key=lambda c: abs(c.index - first))
                    score.index_errors.append(best.index - first)
            else:
                score.misses += 1
            # a drift may be found as several steps; a sharp change is one
            wanted = (1 if hits else 0) if sharp else len(hits)
            score.false_alarms += len(found) - wanted
    return scores


def precision_recall(scores: dict[str, Score]) -> tuple[float, float]:
    hits = sum(s.hits for s in scores.values())
    found = hits + sum(s.false_alarms for s in scores.values())
    expected = hits + sum(s.misses for s in scores.values())
    return (hits / found if found else 1.0), (hits / expected if expected else 1.0)
