"""Generated histories with known changes, to measure the detector against the truth.

A class is a kind of noise and a kind of change. Every history has 60 to 500 nightly runs
(drawn per seed) of a level of 100 with noise of σ = 2.5 (the noise's own σ, whatever its
kind), and higher is worse. Noise:

- ``iid``: independent normal nights;
- ``ar1``: AR(1) with φ = 0.8 (slow lab drift: tonight is close to last night);
- ``weekly``: independent nights plus a weekly pattern of ±1.5 σ (weekend nights differ).

Changes (sizes are ``EFFECT`` σ, the documented minimum effect for the noise):

- ``none``: nothing happens; ``outlier``: one run ``2 * EFFECT`` σ high (no change);
- ``shift``: a rise from a night in the middle on; ``late``: a rise in the last 3 nights;
- ``improvement``: a fall from the middle on (a change for the better);
- ``episode``: a rise for 5 nights, then back (a regression, then its recovery);
- ``drift``: a rise growing linearly over the second half, to ``2.5 * EFFECT`` σ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hil.history.changes import ALPHA, MIN_EFFECT, Change, change_points

LEVEL = 100.0
SIGMA = 2.5
PHI = 0.8
NOISES = ("iid", "ar1", "weekly")
CHANGES = ("none", "outlier", "shift", "late", "improvement", "episode", "drift")
#: the smallest change, in σ of the noise, that the detector is documented to find
EFFECT = {"iid": 4.0, "ar1": 5.0, "weekly": 4.0}
TOLERANCE = 3  # a change found within this many runs of a sharp true one is a hit


@dataclass(frozen=True)
class Truth:
    """A true change: the first run after it (a range for a drift) and its direction."""

    first: int
    last: int
    direction: str


def generate(noise: str, change: str, seed: int) -> tuple[np.ndarray, list[Truth]]:
    """One history of the class (``noise``, ``change``) and its true changes."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 501))
    values = LEVEL + _noise(noise, n, rng)
    size = EFFECT[noise] * SIGMA
    middle = int(rng.integers(n // 3, 2 * n // 3))
    truth: list[Truth] = []
    if change == "outlier":
        values[middle] += 2 * size
    elif change == "shift":
        values[middle:] += size
        truth = [Truth(middle, middle, "worse")]
    elif change == "late":
        values[n - 3 :] += size
        truth = [Truth(n - 3, n - 3, "worse")]
    elif change == "improvement":
        values[middle:] -= size
        truth = [Truth(middle, middle, "better")]
    elif change == "episode":
        values[middle : middle + 5] += 2 * size
        truth = [Truth(middle, middle, "worse"), Truth(middle + 5, middle + 5, "better")]
    elif change == "drift":
        half = n // 2
        values[half:] += np.linspace(0, 2.5 * size, n - half)
        truth = [Truth(half, n - 3, "worse")]
    elif change != "none":
        raise ValueError(f"unknown change {change!r}; known: {', '.join(CHANGES)}")
    return values, truth


def _noise(noise: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if noise == "iid":
        return SIGMA * rng.standard_normal(n)
    if noise == "ar1":
        innovations = SIGMA * np.sqrt(1 - PHI**2) * rng.standard_normal(n)
        out = np.empty(n)
        out[0] = SIGMA * rng.standard_normal()  # the first night from the stationary law
        for i in range(1, n):
            out[i] = PHI * out[i - 1] + innovations[i]
        return out
    if noise == "weekly":
        pattern = 1.5 * SIGMA * np.array([0.0, 0.2, -0.1, 0.1, 0.0, 1.0, -1.2])
        return SIGMA * rng.standard_normal(n) + pattern[np.arange(n) % 7]
    raise ValueError(f"unknown noise {noise!r}; known: {', '.join(NOISES)}")


@dataclass
class Score:
    """True changes found, missed, and changes reported where there is none, in one class."""

    histories: int = 0
    expected: int = 0
    hits: int = 0  # a true change found, in the right direction
    false_alarms: int = 0
    index_errors: list[int] = field(default_factory=list)  # found - true, sharp changes only

    @property
    def precision(self) -> float:
        found = self.hits + self.false_alarms
        return self.hits / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.expected if self.expected else 1.0


def detect(values: np.ndarray, alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> list:
    """The detector as the history runs it on a nightly series (weekday = run % 7)."""
    weekdays = np.arange(len(values)) % 7
    return change_points(values, "higher", alpha, min_effect, weekdays=weekdays)


def score(noise: str, change: str, seeds: range, **options) -> Score:
    result = Score()
    for seed in seeds:
        values, truth = generate(noise, change, seed)
        found = detect(values, **options)
        result.histories += 1
        result.expected += len(truth)
        _match(found, truth, result)
    return result


def _match(found: list[Change], truth: list[Truth], result: Score) -> None:
    """Each true change takes the nearest found change within reach (a drift: any number
    of them inside its range); the found changes left over are false alarms."""
    left = list(found)
    for true in truth:
        sharp = true.first == true.last
        reach = [
            c
            for c in left
            if c.direction == true.direction
            and true.first - TOLERANCE <= c.index <= true.last + (TOLERANCE if sharp else 0)
        ]
        if not reach:
            continue
        result.hits += 1
        if sharp:
            best = min(reach, key=lambda c: abs(c.index - true.first))
            result.index_errors.append(best.index - true.first)
            left.remove(best)
        else:
            left = [c for c in left if c not in reach]
    result.false_alarms += len(left)


def evaluate(seeds: range, **options) -> dict[tuple[str, str], Score]:
    """Every class over ``seeds``."""
    return {(n, c): score(n, c, seeds, **options) for n in NOISES for c in CHANGES}


#: the short scenarios the history's own tests use: 60 iid runs, changes at run 40
SCENARIOS = ("shift", "drift", "outlier", "improvement", "noise")


def history(scenario: str, seed: int, runs: int = 60) -> np.ndarray:
    """60 runs around 100 (σ 2.5): ``shift`` +3 σ from run 40, ``drift`` to +4 σ from run
    20 to the end, ``outlier`` one run 6 σ high at 40, ``improvement`` −3 σ from 40,
    ``noise`` nothing."""
    rng = np.random.default_rng(seed)
    values = LEVEL + SIGMA * rng.standard_normal(runs)
    if scenario == "shift":
        values[40:] += 3 * SIGMA
    elif scenario == "drift":
        values[20:] += np.linspace(0, 4 * SIGMA, runs - 20)
    elif scenario == "outlier":
        values[40] += 6 * SIGMA
    elif scenario == "improvement":
        values[40:] -= 3 * SIGMA
    elif scenario != "noise":
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return values


def table(seeds: range) -> str:
    """The README's table: precision and recall per class above its minimum effect, and
    the false changes where there is none (``python -m hil.history.synthetic [SEEDS]``)."""
    lines = [
        "| class | histories | min effect | true changes | found | false changes "
        "| precision | recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (noise, change), s in evaluate(seeds).items():
        size = {"outlier": 2, "episode": 2, "drift": 2.5}.get(change, 1) * EFFECT[noise]
        effect = "-" if change == "none" else f"{size:g} σ"
        quality = (
            "- | -" if s.expected == 0 else f"{s.precision:.2f} | {s.recall:.2f}"
        )  # no true change: only false changes count
        lines.append(
            f"| {noise} {change} | {s.histories} | {effect} | {s.expected} | {s.hits} "
            f"| {s.false_alarms} | {quality} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(table(range(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
