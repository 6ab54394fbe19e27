"""Bandwidth stalls: output delay that grows while a core is over its budget.

The seed's symptom of a stalled chip is a significant, growing delay on the output when
pre-recorded events are written to it. From a run this module reports the delay (``max``: the
peak of the per-window median delay, robust to a chip's lost, extra and jittered spikes, see
``hil.analysis.delay``; p50 and p99 of the matched outputs), when it peaked (the time of the
inputs that met it), its drift (least-squares slope of the window delays, µs per s), the drain
after the last input (up to the last output that has a cause), and an independent estimate
that needs no emulator: the lag of the output event-rate series behind the input's
(cross-correlation of 1 ms counts). The verdict is "stalled" when the delay passes the
profile's ``max_delay_us``, the drain passes ``max_drain_us``, or (when a limit is given) the
drift passes ``max_drift``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hil.analysis.delay import OutputDelays, output_delays
from hil.analysis.spikes import event_counts
from hil.backends.base import Run

RATE_BIN_US = 1000
#: The most bins a rate series may have (2^20: 17 minutes of 1 ms bins); a longer run is
#: binned more coarsely, so a recording with an hour-long gap costs no more than this.
MAX_RATE_BINS = 1 << 20


@dataclass(frozen=True)
class StallReport:
    """Output delay of one run against its limits (µs, and µs per s for drift)."""

    delays: OutputDelays
    p50_us: float
    p99_us: float
    max_us: float
    peak_t_us: float  # when the input that met the longest delay arrived
    drift_us_per_s: float
    drain_us: float
    rate_lag_us: float
    max_delay_us: float
    max_drain_us: float
    max_drift: float | None
    reasons: list[str] = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        return bool(self.reasons)


def stall_report(
    run: Run,
    max_delay_us: float | None = None,
    max_drain_us: float | None = None,
    max_drift: float | None = None,
) -> StallReport:
    """Judge a device run; limits default to the device profile's ``[stall]`` section."""
    delays = output_delays(run)
    if delays is None:
        raise ValueError(
            f"{run.deployment.device.info}: a time-stepped run has no output delays; "
            "stall detection needs a device with time (sim or a real devkit)"
        )
    profile = run.deployment.device.profile
    max_delay_us = profile.max_delay_us if max_delay_us is None else max_delay_us
    max_drain_us = profile.max_drain_us if max_drain_us is None else max_drain_us
    values = delays.delay_us.astype(np.float64)
    p50, p99 = np.percentile(values, [50, 99]) if len(values) else (0.0, 0.0)
    if len(delays.window_delay_us):
        peak_index = int(np.argmax(delays.window_delay_us))
        peak = float(delays.window_delay_us[peak_index])
        peak_t = float(delays.window_cause_us[peak_index])
    else:
        peak = peak_t = 0.0
    drift = _slope_per_s(delays.window_cause_us, delays.window_delay_us)
    drain = _drain_us(run, delays)
    reasons = []
    if peak > max_delay_us:
        reasons.append(
            f"output delay reached {peak:,.0f} µs for inputs at t = {peak_t / 1e6:.3f} s "
            f"(limit {max_delay_us:,.0f} µs)"
        )
    if drain > max_drain_us:
        reasons.append(
            f"outputs kept coming {drain:,.0f} µs after the last input "
            f"(limit {max_drain_us:,.0f} µs)"
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


def _drain_us(run: Run, delays: OutputDelays) -> float:
    """From the last input to the last output that has a cause: a spurious spike after the
    end is not a chip still working off its backlog."""
    if len(run.inputs) == 0 or len(delays.t_us) == 0:
        return 0.0
    return float(max(0, int(delays.t_us.max()) - int(run.inputs["t"][-1])))


def _slope_per_s(t_us: np.ndarray, values: np.ndarray) -> float:
    if len(values) < 2 or np.ptp(t_us) == 0:
        return 0.0
    t_s = (t_us - t_us.mean()) / 1e6
    return float(np.dot(t_s, values - values.mean()) / np.dot(t_s, t_s))
