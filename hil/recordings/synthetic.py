"""Seeded synthetic event streams: stimuli with known statistics for HIL tests.

Each generator is a pure function of its arguments: the same seed gives the same events, so a
file written from it has a stable sha256 and can sit in the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hil.bounds import check_array_size
from hil.events import EVENT_DTYPE, sensor_size_tuple

US_PER_S = 1_000_000


def poisson(
    rate: float,
    duration_s: float,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    polarities: int = 2,
) -> np.ndarray:
    """Events uniform over the sensor and over time, ``rate`` events/s on average."""
    rng = np.random.default_rng(seed)
    return _uniform(rng, rate, 0, _us(duration_s), size, polarities)


def moving_bar(
    rate: float,
    duration_s: float,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    bar_width: int = 4,
    sweeps: int = 1,
) -> np.ndarray:
    """A vertical bar sweeping left to right ``sweeps`` times: what a DVS sees of an edge.

    Events fall inside the bar; its leading half gives ON events (p=1), its trailing half OFF.
    """
    rng = np.random.default_rng(seed)
    width, height = sensor_size_tuple(size)
    for name, value in (("bar_width", bar_width), ("sweeps", sweeps)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1; got {value}")
    n = _count(rng, rate, duration_s)
    t = np.sort(rng.integers(0, _us(duration_s), n))
    phase = (t * sweeps / _us(duration_s)) % 1.0
    offset = rng.uniform(0, bar_width, n)
    leading_edge = phase * (width + bar_width)
    x = np.floor(leading_edge - offset).astype(np.int64)
    inside = (x >= 0) & (x < width)
    events = np.empty(int(inside.sum()), dtype=EVENT_DTYPE)
    events["t"] = t[inside]
    events["x"] = x[inside]
    events["y"] = rng.integers(0, height, n)[inside]
    events["p"] = offset[inside] < bar_width / 2
    return events


def burst(
    rate: float,
    duration_s: float,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    burst_rate: float | None = None,
    burst_duration_s: float | None = None,
    polarities: int = 2,
) -> np.ndarray:
    """A quiet uniform stream with a dense burst centred in it, to overload a core for a while.

    Defaults: the burst is 20x the quiet ``rate`` and lasts a tenth of the stream.
    """
    rng = np.random.default_rng(seed)
    burst_rate = 20 * rate if burst_rate is None else burst_rate
    burst_us = _us(duration_s / 10 if burst_duration_s is None else burst_duration_s)
    total_us = _us(duration_s)
    if burst_us > total_us:
        raise ValueError("the burst cannot last longer than the stream")
    start = (total_us - burst_us) // 2
    quiet = _uniform(rng, rate, 0, total_us, size, polarities)
    dense = _uniform(rng, burst_rate, start, start + burst_us, size, polarities)
    events = np.concatenate([quiet, dense])
    return events[np.argsort(events["t"], kind="stable")]


def _uniform(
    rng: np.random.Generator,
    rate: float,
    t0_us: int,
    t1_us: int,
    size: tuple[int, int],
    polarities: int,
) -> np.ndarray:
    sensor_size_tuple((*size, polarities))
    n = _count(rng, rate, (t1_us - t0_us) / US_PER_S)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = np.sort(rng.integers(t0_us, max(t1_us, t0_us + 1), n))
    events["x"] = rng.integers(0, size[0], n)
    events["y"] = rng.integers(0, size[1], n)
    events["p"] = rng.integers(0, polarities, n)
    return events


def _count(rng: np.random.Generator, rate: float, seconds: float) -> int:
    """How many events ``rate`` events/s give over ``seconds``, refused when they would not
    fit in memory."""
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate must be a non-negative number of events/s; got {rate}")
    check_array_size(
        "the synthetic recording",
        round(rate * seconds),
        EVENT_DTYPE.itemsize,
        f"{rate:g} events/s over {seconds:g} s",
    )
    return int(rng.poisson(rate * seconds))


def _us(seconds: float) -> int:
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"duration must be a positive number of seconds; got {seconds}")
    return round(seconds * US_PER_S)


GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "poisson": poisson,
    "moving-bar": moving_bar,
    "burst": burst,
}
