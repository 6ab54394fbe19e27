"""Power during a replay: mean and peak per rail, the total, and the replay's energy.

The devkit's power monitor samples each rail's mean power over fixed periods (``Run.power``).
The total at a sample time is the sum of the rails sampled then; the replay's energy is the
total integrated over the sampled periods (each sample stands for one period).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hil.backends.base import Run


@dataclass(frozen=True)
class RailPower:
    rail: str
    mean_w: float
    peak_w: float


@dataclass(frozen=True)
class PowerReport:
    """``t_us`` and ``total_w`` are the summed series, one value per sample time."""

    rails: list[RailPower]
    t_us: np.ndarray
    total_w: np.ndarray
    period_us: float
    mean_w: float
    peak_w: float
    energy_j: float

    @property
    def duration_us(self) -> float:
        return self.period_us * len(self.t_us)


def power_report(run: Run, rail_names: tuple[str, ...] | None = None) -> PowerReport | None:
    """What the monitor saw during ``run``; None when the run has no power samples."""
    samples = run.power
    if samples is None or len(samples) == 0:
        return None
    if rail_names is None:
        model = run.deployment.device.profile.power
        rail_names = model.rails if model is not None else ()
    times, slot = np.unique(samples["t"], return_inverse=True)
    total = np.bincount(slot, weights=samples["watts"], minlength=len(times))
    period = float(np.median(np.diff(times))) if len(times) > 1 else float(times[0])
    rails = []
    for rail in np.unique(samples["rail"]).tolist():
        watts = samples["watts"][samples["rail"] == rail]
        name = rail_names[rail] if rail < len(rail_names) else f"rail{rail}"
        rails.append(RailPower(name, float(watts.mean()), float(watts.max())))
    return PowerReport(
        rails=rails,
        t_us=times,
        total_w=total,
        period_us=period,
        mean_w=float(total.mean()),
        peak_w=float(total.max()),
        energy_j=float(total.sum() * period / 1e6),
    )
