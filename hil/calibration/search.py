"""Measuring a chip: each core's SynOps/s budget, the pipeline latency and the power.

No figure is published for what a Speck core can compute per second, and every SynOps and
stall verdict rests on it. This finds it the way the chip shows it: a core asked for more
than it can serve queues the work, so the output delay, flat below the budget, grows with
time above it.

Per core, a calibration network of one layer is mapped onto that core alone (no other core
is loaded): 1 input channel of 16×16, 32 output channels with 7×7 kernels, padding 3. Input
events go to nine interior pixels, 4 apart, so each costs exactly 7·7·32 = 1568 SynOps and
the probe neuron (channel 0 at the input's pixel) is touched by that pixel's events only. Its
weight fires it on every one of them (reset to zero); every other weight is −threshold, so no
weight is zero and no other neuron can climb to threshold, not even with membrane noise. An
input stream at ``r`` events/s thus offers ``r · 1568`` SynOps/s and is answered by one probe
spike per event. Every output of the core is taken as such an answer, whatever address it
carries (a noisy chip may garble addresses, but stamps a spike when it was served).

The knee is found by bracketing (doubling or halving the offered load from the harness's
belief until one step's delay is flat and another's grows) and then bisecting on a log scale
until the bracket is narrower than ``tolerance``; the budget is its geometric middle, less the
small overload the growth threshold needs before it calls a step growing. Every step starts
from a clean chip: the replay resets the neuron states and re-applies the configuration, which
empties the queues.
Each step offers a regular stream (no Poisson bursts, whose queueing would read as growth)
for ``step_s`` seconds. Delay: the j-th output spike belongs to input j / yield, where yield
is outputs per input over the whole step, so lost or extra spikes spread evenly instead of
shifting every later pair; the delay grows when its median over the last tenth of the step
exceeds the first tenth's by more than ``GROWTH_FRACTION`` of the step.

The pipeline latency is the fixed part of the delay at low load (1 event per ms): its 5th
percentile (random lateness of single outputs is jitter, not latency), less the core's service
time 1568 / budget. With a power monitor, idle power per rail and each core's energy per SynOp
are a straight-line fit of the mean power at several loads below the knee.

Nothing here knows about pytest or the command line; ``on_step`` reports progress.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hil.backends.base import DeployError, Deployment, Device, DeviceError, DeviceInfo
from hil.chip.profile_schema import MIN_SYNOPS_PER_S
from hil.events import EVENT_DTYPE

KERNEL = 7
CHANNELS = 32
SIZE = 16
INPUT_SHAPE = (1, SIZE, SIZE)
SYNOPS_PER_EVENT = KERNEL * KERNEL * CHANNELS
#: Input pixels: interior (an event there touches every output position of its kernel), and
#: at least KERNEL // 2 + 1 apart, so the probe neuron at a pixel is touched by that pixel's
#: events only.
PIXELS = [(x, y) for y in range(3, SIZE - 3, 4) for x in range(3, SIZE - 3, 4)]
GROWTH_FRACTION = 0.004
#: The two medians the growth is judged from sit this fraction of the step apart: a load
#: (1 + d) times the budget grows by d times that, so the verdict flips at d =
#: GROWTH_FRACTION / MEDIAN_SEPARATION, which the budget is corrected for.
MEDIAN_SEPARATION = 0.9
#: Fewer events than this, and the delay's ends are too few outputs to judge by.
MIN_STEP_EVENTS = 2000
GROWTH_FLOOR_US = 20.0
LATENCY_SPACING_US = 1000
LATENCY_EVENTS = 200
#: The latency step loads the core at most this fraction of its measured budget, so every
#: event finds it idle (a core of 1e6 SynOps/s needs 1568 µs per event: events 1000 µs apart
#: would queue, and the latency would come out negative).
LATENCY_LOAD = 0.25
POWER_LOADS = (0.25, 0.5, 0.75)
POWER_STEP_S = 0.3
MAX_EVENTS_PER_S = 4e6
#: A step's replay may take this long beyond its stream before the device counts as stuck.
STEP_TIMEOUT_MARGIN_S = 30.0
#: Assumed cost of one step on a real devkit beyond its stream: writing the configuration
#: again and waiting for the outputs to go quiet.
REAL_STEP_OVERHEAD_S = 0.5


class CalibrationError(ValueError):
    """Calibration cannot run as asked (unknown core, a device without time), or a core
    gave no usable answer."""


@dataclass(frozen=True)
class Step:
    """One replay of a sweep: what was offered and what the delay did."""

    core: int
    index: int
    phase: str  # "bracket", "bisect", "latency" or "power"
    offered_synops_per_s: float
    events_per_s: float
    duration_us: int
    events_in: int
    events_out: int
    delay_start_us: float
    delay_end_us: float
    grows: bool | None
    power_w: tuple[float, ...] | None = None  # mean per rail

    @property
    def growth_us(self) -> float:
        return self.delay_end_us - self.delay_start_us

    @property
    def verdict(self) -> str:
        if self.grows is None:
            return "measured"
        return "grows" if self.grows else "flat"


@dataclass(frozen=True)
class CoreResult:
    core: int
    synops_per_s: float
    synops_per_s_ci: tuple[float, float]
    latency_us: float
    energy_per_synop_j: float | None
    idle_w: tuple[float, ...] | None
    rail_slopes: tuple[float, ...] | None  # W per SynOp/s, per rail
    steps: list[Step]


@dataclass
class CalibrationResult:
    device: DeviceInfo
    date: str
    cores: dict[int, CoreResult] = field(default_factory=dict)
    requested: tuple[int, ...] = ()
    error: str | None = None
    #: core -> why it gave no budget (no knee within reach, no output): the other cores go on
    unmeasured: dict[int, str] = field(default_factory=dict)
    wall_s: float = 0.0
    steps: list[Step] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.error is not None or set(self.cores) != set(self.requested)

    @property
    def device_time_s(self) -> float:
        """Chip time the steps' streams took: the least a real devkit needs."""
        return sum(step.duration_us for step in self.steps) / 1e6

    @property
    def estimated_real_s(self) -> float:
        """What the same sweep would take on a real devkit (an estimate: its stream time plus
        ``REAL_STEP_OVERHEAD_S`` per step)."""
        return self.device_time_s + REAL_STEP_OVERHEAD_S * len(self.steps)

    def pipeline_latency_us(self) -> tuple[float, tuple[float, float]] | None:
        """The median of the cores' latencies, and their range."""
        latencies = [core.latency_us for core in self.cores.values()]
        if not latencies:
            return None
        return float(np.median(latencies)), (min(latencies), max(latencies))


def calibration_network():
    """One layer whose every input event at an interior pixel costs ``SYNOPS_PER_EVENT``
    SynOps and makes exactly one output spike (channel 0, the input's pixel)."""
    import sinabs.layers as sl
    import torch
    from sinabs.activation import MembraneReset
    from torch import nn

    conv = nn.Conv2d(1, CHANNELS, KERNEL, padding=KERNEL // 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(-1.0)
        conv.weight[0, 0, KERNEL // 2, KERNEL // 2] = 2.0
    neurons = sl.IAFSqueeze(
        batch_size=1, spike_threshold=1.0, min_v_mem=-0.05, reset_fn=MembraneReset()
    )
    return nn.Sequential(conv, neurons)


def regular_stream(events_per_s: float, duration_s: float) -> np.ndarray:
    """Events at a steady rate over interior pixels, cycling through them."""
    count = max(2, round(events_per_s * duration_s))
    events = np.zeros(count, dtype=EVENT_DTYPE)
    events["t"] = np.rint(np.arange(count) * (1e6 / events_per_s)).astype(np.int64)
    pixels = np.asarray(PIXELS)[np.arange(count) % len(PIXELS)]
    events["x"], events["y"] = pixels[:, 0], pixels[:, 1]
    return events


def calibrate(
    device: Device,
    cores: Sequence[int] | None = None,
    step_s: float = 0.1,
    tolerance: float = 0.01,
    on_step: Callable[[Step], None] | None = None,
) -> CalibrationResult:
    """Measure ``cores`` (default: all) of an open ``device``. A device that fails midway
    ends the sweep; the cores finished before are kept and the result says ``partial``."""
    profile = device.profile
    cores = tuple(range(profile.n_cores)) if cores is None else tuple(cores)
    unknown = [c for c in cores if not 0 <= c < profile.n_cores]
    if unknown:
        raise CalibrationError(
            f"unknown core {unknown[0]}: {profile.name} has cores 0..{profile.n_cores - 1}"
        )
    if device.dt_us is not None:
        raise CalibrationError(
            f"{device.info}: a time-stepped device has no time to measure; calibrate a "
            "devkit or the emulated one (--device sim)"
        )
    result = CalibrationResult(
        device=device.info,
        date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        requested=cores,
    )
    started = time.perf_counter()

    def record(step: Step) -> None:
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    try:
        for core in cores:
            try:
                result.cores[core] = _CoreSweep(device, core, step_s, tolerance, record).run()
            except CalibrationError as exc:  # this core's answer; the others still count
                result.unmeasured[core] = str(exc)
    except (DeviceError, DeployError) as exc:  # a device that vanishes while deploying
        result.error = str(exc)
    finally:
        result.wall_s = time.perf_counter() - started
    return result


class _CoreSweep:
    """The steps that measure one core."""

    def __init__(
        self,
        device: Device,
        core: int,
        step_s: float,
        tolerance: float,
        record: Callable[[Step], None],
    ):
        self.core, self.step_s, self.tolerance, self.record = core, step_s, tolerance, record
        self.belief = device.profile.synops_per_s[core]
        self.steps: list[Step] = []
        self.deployment: Deployment = device.deploy(
            calibration_network(),
            INPUT_SHAPE,
            reset="zero",
            monitor="all",
            layer2core_map={0: core},
        )

    def run(self) -> CoreResult:
        low, high = self._bracket()
        while high / low > 1 + self.tolerance:
            middle = math.sqrt(low * high)
            if self._step("bisect", middle).grows:
                high = middle
            else:
                low = middle
        threshold = 1 + GROWTH_FRACTION / MEDIAN_SEPARATION
        low, high = low / threshold, high / threshold
        budget = math.sqrt(low * high)
        latency_load = min(SYNOPS_PER_EVENT * 1e6 / LATENCY_SPACING_US, LATENCY_LOAD * budget)
        latency = self._step("latency", latency_load)
        power_steps = [latency] + [self._step("power", f * budget) for f in POWER_LOADS]
        fit = _power_fit(power_steps)
        latency_us = latency.delay_start_us - SYNOPS_PER_EVENT / budget * 1e6
        if latency_us < -self.tolerance * SYNOPS_PER_EVENT / budget * 1e6:
            raise CalibrationError(
                f"core {self.core}: the pipeline latency came out {latency_us:.3g} µs "
                "(negative: the latency step's delays are not the core's); not stored"
            )
        return CoreResult(
            core=self.core,
            synops_per_s=budget,
            synops_per_s_ci=(low, high),
            latency_us=max(latency_us, 0.0),
            energy_per_synop_j=fit[0] if fit else None,
            idle_w=fit[1] if fit else None,
            rail_slopes=fit[2] if fit else None,
            steps=self.steps,
        )

    def _bracket(self) -> tuple[float, float]:
        """Two loads a factor 2 apart, the lower flat and the higher growing."""
        load = self.belief
        grows = self._step("bracket", load).grows
        factor = 0.5 if grows else 2.0
        while True:
            other = load * factor
            if other / SYNOPS_PER_EVENT > MAX_EVENTS_PER_S:
                raise CalibrationError(
                    f"core {self.core}: the delay stayed flat up to {load:.3g} SynOps/s, the "
                    f"most the input can offer ({MAX_EVENTS_PER_S:.3g} events/s): its budget "
                    "is above what calibration can measure"
                )
            if other < MIN_SYNOPS_PER_S / 2:
                raise CalibrationError(
                    f"core {self.core}: the delay {'grew' if grows else 'stayed flat'} at "
                    f"every load offered down to {min(load, other):.3g} and up to "
                    f"{max(load, other):.3g} SynOps/s: no knee found"
                )
            other_grows = self._step("bracket", other).grows
            if other_grows != grows:
                return (other, load) if grows else (load, other)
            load = other

    def _step(self, phase: str, synops_per_s: float) -> Step:
        if phase == "latency":
            rate = synops_per_s / SYNOPS_PER_EVENT
            events = regular_stream(rate, LATENCY_EVENTS / rate)
        else:
            rate = synops_per_s / SYNOPS_PER_EVENT
            duration = POWER_STEP_S if phase == "power" else self.step_s
            events = regular_stream(rate, max(duration, MIN_STEP_EVENTS / rate))
        span_s = int(events["t"][-1]) / 1e6
        run = self.deployment.replay(events, timeout_s=span_s + _drain_s(len(events)))
        inputs = run.inputs["t"].astype(np.int64)
        outputs = _core_outputs(run.outputs, self.core)
        if len(outputs) == 0:
            raise CalibrationError(
                f"core {self.core}: no output spike in a {phase} step of {len(inputs)} "
                "events; the core (or the device) does not answer"
            )
        if phase == "latency":
            start = end = float(np.percentile(_nearest_delays(inputs, outputs), 5))
            grows = None
        else:
            start, end = _delay_ends(inputs, outputs)
            span = float(inputs[-1] - inputs[0])
            grows = None if phase == "power" else end - start > _growth_limit(span)
        step = Step(
            core=self.core,
            index=len(self.steps),
            phase=phase,
            offered_synops_per_s=len(inputs) * SYNOPS_PER_EVENT / max(_span_s(inputs), 1e-9),
            events_per_s=len(inputs) / max(_span_s(inputs), 1e-9),
            duration_us=int(inputs[-1] - inputs[0]),
            events_in=len(inputs),
            events_out=len(outputs),
            delay_start_us=start,
            delay_end_us=end,
            grows=grows,
            power_w=_mean_power(run.power),
        )
        self.steps.append(step)
        self.record(step)
        return step


def _drain_s(n_events: int) -> float:
    """How long a step's outputs may take after its stream: the work of its events on the
    slowest core the profile schema allows, so an overloaded step on a slow core (a budget
    of 1e4 SynOps/s offered 5e7) is drained, not taken for a stuck device."""
    return STEP_TIMEOUT_MARGIN_S + n_events * SYNOPS_PER_EVENT / MIN_SYNOPS_PER_S


def _span_s(inputs: np.ndarray) -> float:
    """The stream's span with one interval added: count / span is its rate."""
    if len(inputs) < 2:
        return 0.0
    return (inputs[-1] - inputs[0]) * len(inputs) / (len(inputs) - 1) / 1e6


def _growth_limit(span_us: float) -> float:
    return max(GROWTH_FRACTION * span_us, GROWTH_FLOOR_US)


def _core_outputs(outputs: np.ndarray, core: int) -> np.ndarray:
    """Times of the core's output spikes. Only the probe neuron can fire, so each is the
    answer to one input event, whatever address it carries: a chip that garbles addresses
    still stamps the spike when the core served the event."""
    return np.sort(outputs["t"][outputs["layer"] == core].astype(np.int64))


def _delay_ends(inputs: np.ndarray, outputs: np.ndarray) -> tuple[float, float]:
    """Median delay over the first and the last tenth of the outputs; output j is paired
    with input j / yield."""
    ratio = len(outputs) / len(inputs)
    partner = np.minimum((np.arange(len(outputs)) / ratio).astype(np.int64), len(inputs) - 1)
    delays = outputs - inputs[partner]
    tenth = max(1, len(delays) // 10)
    return float(np.median(delays[:tenth])), float(np.median(delays[-tenth:]))


def _nearest_delays(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Delay of each output after the latest input before it (sparse streams only)."""
    partner = np.searchsorted(inputs, outputs, side="right") - 1
    kept = partner >= 0
    return outputs[kept] - inputs[partner[kept]]


def _mean_power(samples: np.ndarray | None) -> tuple[float, ...] | None:
    if samples is None or len(samples) == 0:
        return None
    rails = int(samples["rail"].max()) + 1
    total = np.bincount(samples["rail"], weights=samples["watts"], minlength=rails)
    count = np.bincount(samples["rail"], minlength=rails)
    return tuple((total / np.maximum(count, 1)).tolist())


def _power_fit(
    steps: list[Step],
) -> tuple[float, tuple[float, ...], tuple[float, ...]] | None:
    """Energy per SynOp (the slope of total power against SynOps/s), idle power per rail
    and each rail's slope, from steps below the knee; None without power samples."""
    usable = [s for s in steps if s.power_w is not None]
    if len(usable) < 2:
        return None
    load = np.array([s.offered_synops_per_s for s in usable])
    watts = np.array([s.power_w for s in usable])
    slopes, intercepts = np.polyfit(load, watts, 1)
    return float(slopes.sum()), tuple(intercepts.tolist()), tuple(slopes.tolist())
