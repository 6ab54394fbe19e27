"""What a sweep measured: per factor, the accuracy, spikes, onset, per-core load, stall,
latency and power; and the sweep as a whole with its chosen factor."""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.analysis.accuracy import AccuracyReport


@dataclass(frozen=True)
class CoreLoad:
    """One core over every sample of a factor (SynOps/s; peak over 10 ms windows)."""

    core: int
    layer: int
    peak: float  # the highest of the samples' peaks
    mean: float  # the samples' mean rates, averaged
    budget: float
    sinabs_hooks: float  # sinabs.hooks' estimate (dt in s), over all samples' time

    @property
    def load(self) -> float:
        return self.peak / self.budget


@dataclass(frozen=True)
class FactorResult:
    factor: float
    accuracy: AccuracyReport
    output_spikes_per_sample: float
    silent_share: float  # of samples whose output layer never fired
    onset: dict[int, float]  # layer -> median first-spike time / recording length (inf: never)
    cores: dict[int, CoreLoad]
    stalled_samples: int
    stall_reasons: list[str]
    latency_us: dict[int, float]  # percentile -> output delay
    power_mw: float | None = None  # mean over samples, where the device measures power
    energy_uj_per_sample: float | None = None

    @property
    def stalled(self) -> bool:
        return self.stalled_samples > 0

    @property
    def n(self) -> int:
        return self.accuracy.chip.n

    def within_budget(self, margin: float) -> bool:
        return all(core.peak <= core.budget * (1 - margin) for core in self.cores.values())

    def total_peak(self) -> float:
        return sum(core.peak for core in self.cores.values())


@dataclass
class SweepResult:
    dataset: str
    device: str
    margin: float
    percentile: float
    factors: list[FactorResult] = field(default_factory=list)
    chosen: float | None = None
    binding_core: int | None = None
    reason: str = ""  # why the chosen factor is that one, or why none is
