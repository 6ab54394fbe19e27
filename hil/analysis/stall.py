"""Bandwidth stalls: output delay that grows while a core is over its budget.

The seed's symptom of a stalled chip is a significant, growing delay on the output when
pre-recorded events are written to it. A core that cannot keep up queues wherever it stands in
the pipeline, so the delay is read core by core (``hil.analysis.delay``, robust to a chip's
lost, extra and jittered spikes): per core, the peak of its per-window median delay, from
when it passed the limit and when it peaked (the time of the inputs that met it), and how
many of its windows could show a delay at all. A core none of whose windows could (a dense
layer whose neurons fire more often than a delay can be resolved) is "cannot tell", never a
pass on its own.

Beside it, a backstop that needs no model of which output had which cause: the drain, how
long the device kept emitting after the last input beyond what the ideal chip needs (its
last output after the last input, which is at most its pipeline). Also reported: p50 and p99
of the matched outputs, the drift (least-squares slope of the window delays, µs per s), and
the lag of the output event-rate series behind the input's (cross-correlation of 1 ms
counts). The verdict is "stalled" when a core's delay passes the profile's ``max_delay_us``,
the drain passes ``max_drain_us``, or (when a limit is given) the drift passes ``max_drift``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hil.analysis.delay import OutputDelays, match_per_core, zero_latency_outputs
from hil.analysis.spikes import event_counts
from hil.backends.base import Run

RATE_BIN_US = 1000
#: The most bins a rate series may have (2^20: 17 minutes of 1 ms bins); a longer run is
#: binned more coarsely, so a recording with an hour-long gap costs no more than this.
MAX_RATE_BINS = 1 << 20


@dataclass(frozen=True)
class CoreStall:
    """One core's output delay: its peak (µs), when its inputs met it, from when the delay
    passed the limit (None: never), and how many of its windows of ideal spikes showed a
    delay (``resolved``) of ``windows``; with none resolved, the core's delay is unknown."""

    core: int
    peak_us: float
    peak_t_us: float
    over_limit_from_us: float | None
    windows: int
    resolved: int
    peak_from_drain: bool = False  # the peak is the drain: a lower bound, no window showed more

    @property
    def stalled(self) -> bool:
        return self.over_limit_from_us is not None

    @property
    def cannot_tell(self) -> bool:
        return self.windows > 0 and self.resolved == 0


@dataclass(frozen=True)
class StallReport:
    """Output delay of one run against its limits (µs, and µs per s for drift)."""

    delays: OutputDelays
    p50_us: float
    p99_us: float
    max_us: float
    peak_t_us: float  # when the input that met the longest delay arrived
    drift_us_per_s: float
    drain_us: float  # after the last input, beyond what the ideal chip needs
    rate_lag_us: float
    max_delay_us: float
    max_drain_us: float
    max_drift: float | None
    reasons: list[str] = field(default_factory=list)
    cores: dict[int, CoreStall] = field(default_factory=dict)

    @property
    def stalled(self) -> bool:
        return bool(self.reasons)

    @property
    def cannot_tell(self) -> list[int]:
        """The cores whose delay could not be resolved in any window."""
        return [core for core, stall in self.cores.items() if stall.cannot_tell]


def stall_report(
    run: Run,
    max_delay_us: float | None = None,
    max_drain_us: float | None = None,
    max_drift: float | None = None,
) -> StallReport:
    """Judge a device run; limits default to the device profile's ``[stall]`` section."""
    if run.dt_us is not None:
        raise ValueError(
            f"{run.deployment.device.info}: a time-stepped run has no output delays; "
            "stall detection needs a device with time (sim or a real devkit)"
        )
    ideal = zero_latency_outputs(run)
    delays = match_per_core(run.outputs, ideal)
    profile = run.deployment.device.profile
    max_delay_us = profile.max_delay_us if max_delay_us is None else max_delay_us
    max_drain_us = profile.max_drain_us if max_drain_us is None else max_drain_us
    values = delays.delay_us.astype(np.float64)
    p50, p99 = np.percentile(values, [50, 99]) if len(values) else (0.0, 0.0)
    last_input = float(run.inputs["t"][-1]) if len(run.inputs) else 0.0
    cores = {
        core: _core_stall(
            core,
            delays,
            windows,
            drain_beyond_ideal_us(run, ideal, core),
            last_input,
            max_delay_us,
        )
        for core, windows in sorted(delays.windows_per_core.items())
    }
    worst = max(cores.values(), key=lambda stall: stall.peak_us, default=None)
    peak, peak_t = (worst.peak_us, worst.peak_t_us) if worst else (0.0, 0.0)
    drift = _slope_per_s(delays.window_cause_us, delays.window_delay_us)
    drain = drain_beyond_ideal_us(run, ideal)
    reasons = [
        f"core {stall.core}: output delay reached {stall.peak_us:,.0f} µs for inputs at "
        f"t = {stall.peak_t_us / 1e6:.3f} s, over the limit from t = "
        f"{stall.over_limit_from_us / 1e6:.3f} s (limit {max_delay_us:,.0f} µs)"
        for stall in cores.values()
        if stall.stalled
    ]
    if drain > max_drain_us:
        reasons.append(
            f"outputs kept coming {drain:,.0f} µs after the last input, beyond what the ideal "
            f"chip needs (limit {max_drain_us:,.0f} µs)"
        )
    if max_drift is not None and drift > max_drift:
        reasons.append(f"delay drifted by {drift:,.1f} µs per s (limit {max_drift:,.1f})")
    return StallReport(
        delays=delays,
        p50_us=float(p50),
        p99_us=float(p99),
        max_us=float(peak),
        peak_t_us=peak_t,
        drift_us_per_s=drift,
        drain_us=drain,
        rate_lag_us=rate_lag_us(run),
        max_delay_us=float(max_delay_us),
        max_drain_us=float(max_drain_us),
        max_drift=max_drift,
        reasons=reasons,
        cores=cores,
    )


def _core_stall(
    core: int,
    delays: OutputDelays,
    windows: tuple[int, int],
    drain_us: float,
    last_input_us: float,
    max_delay_us: float,
) -> CoreStall:
    """A core's delay from its windows, and at least its drain: the last output's cause came
    at or before the last input, so its delay is no less than that (a backlog whose last
    windows could not be resolved is still measured)."""
    cause, delay = delays.of_core(core)
    if drain_us > 0:
        cause, delay = np.r_[cause, last_input_us], np.r_[delay, drain_us]
    if len(delay) == 0:
        return CoreStall(core, 0.0, 0.0, None, *windows)
    peak = int(np.argmax(delay))
    over = np.flatnonzero(delay > max_delay_us)
    resolved = windows[1] + int(drain_us > max_delay_us)  # the drain alone shows a stall
    return CoreStall(
        core=core,
        peak_us=float(delay[peak]),
        peak_t_us=float(cause[peak]),
        over_limit_from_us=float(cause[over[0]]) if len(over) else None,
        windows=windows[0],
        resolved=resolved,
        peak_from_drain=drain_us > 0 and peak == len(delay) - 1,
    )


def rate_lag_us(run: Run, bin_us: int = RATE_BIN_US) -> float:
    """How far the output event-rate series lags the input's: the lag (≥ 0) at which their
    cross-correlation peaks. Needs no model of the chip, so it works on any device.

    Bins are ``bin_us`` wide, or wider when the run spans more than ``MAX_RATE_BINS`` of
    them: the answer is then as fine as those bins, and the arrays stay bounded."""
    if len(run.inputs) == 0 or len(run.outputs) == 0:
        return 0.0
    t0 = int(run.inputs["t"][0])
    end = max(int(run.inputs["t"][-1]), int(run.outputs["t"].max()))
    bin_us = max(int(bin_us), -(-(end - t0 + 1) // MAX_RATE_BINS))
    n_bins = (end - t0) // bin_us + 1
    inputs = event_counts(run.inputs["t"], bin_us, t0, n_bins).astype(np.float64)
    outputs = event_counts(run.outputs["t"], bin_us, t0, n_bins).astype(np.float64)
    inputs -= inputs.mean()
    outputs -= outputs.mean()
    size = 1 << (2 * n_bins - 1).bit_length()
    correlation = np.fft.irfft(
        np.fft.rfft(outputs, size) * np.conj(np.fft.rfft(inputs, size)), size
    )
    return float(np.argmax(correlation[:n_bins]) * bin_us)


def drain_beyond_ideal_us(
    run: Run, ideal: np.ndarray | None = None, core: int | None = None
) -> float:
    """How long the device (or its ``core``) kept emitting after the last input, beyond
    what the ideal chip (``ideal``: its outputs for the run's inputs, computed when not
    given) needs: a backstop that needs no pairing of outputs with causes, so it sees a
    backlog whatever the delay estimate made of it. The ideal chip's drain is its last
    output after the last input."""
    outputs = run.outputs if core is None else run.outputs_of(core)
    if len(run.inputs) == 0 or len(outputs) == 0:
        return 0.0
    last_input = int(run.inputs["t"][-1])
    ideal = zero_latency_outputs(run) if ideal is None else ideal
    if core is not None:
        ideal = ideal[ideal["layer"] == core]
    needed = max(0, int(ideal["t"].max()) - last_input) if len(ideal) else 0
    return float(max(0, int(outputs["t"].max()) - last_input - needed))


def _slope_per_s(t_us: np.ndarray, values: np.ndarray) -> float:
    if len(values) < 2 or np.ptp(t_us) == 0:
        return 0.0
    t_s = (t_us - t_us.mean()) / 1e6
    return float(np.dot(t_s, values - values.mean()) / np.dot(t_s, t_s))
