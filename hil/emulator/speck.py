"""``Speck``: an event-driven, integer model of one Speck chip, with time.

It executes what facts.md §4 states about the chip. Where the public facts leave a choice open,
the emulator makes the one below; each is a claim a lab can check against a real chip.

Neurons and order
  - Per input event at a core, every neuron of the projective field gets ``v += w`` and is then
    checked: ``v >= threshold_high`` gives exactly one spike and ``v -= threshold_high`` (or
    ``v = 0`` with ``return_to_zero``); finally ``v = max(v, threshold_low)``.
  - int16 overflow saturates (``v`` is clipped to -32768..32767 after each addition).
  - Touched neurons are visited, and their spikes emitted, in increasing (y, x, feature)
    order, feature fastest. A core finishes its threshold checks for one event before any of
    the resulting spikes is routed (this only matters for a core that feeds itself).
  - Routing is depth-first: one spike's whole downstream cascade (destination 0 first, then
    destination 1) completes before the next spike, and all of them before the next input.
  - A delivery whose pooled, shifted coordinates fall outside the destination core's input
    map is dropped.

Decimator
  - One counter per core, zero after ``reset()``, counting the spikes the core emits: the
    N-th, 2N-th, ... spike passes (N = ``profile.decimator_intervals[code]``). The decimator
    sits before the monitor, so a monitored core with a decimator shows only passed spikes.

Leak
  - With ``leak_enable``, slow-clock tick k (k = 1, 2, ...) happens at ``k / slow_clk_hz``
    seconds of chip time (counted from the last ``reset()`` or ``set_slow_clk_rate``). It adds
    ``biases[f]`` to every neuron of channel f, saturating, clamped at ``threshold_low``, and
    never makes a neuron fire: a neuron left above threshold fires on its next input.
  - A tick at or before the moment a core starts serving an event is applied before that
    event. At the end of ``run`` all leaking cores are brought up to the current chip time.

DVS layer (layer-13 inputs, ``feature`` = polarity, 1 = ON)
  - Order: polarity select (``on_channel``/``off_channel``) → merge (channel 0, else
    channel = polarity) → layer-13 monitor → pooling (x // px, y // py) → ROI (drop outside
    origin..cut inclusive, in pooled coordinates, then shift by origin) → mirror y, mirror x
    (within the ROI) → diagonal swap → destinations (pooling, feature_shift).
  - The monitor taps events before pooling, ROI and mirroring, following sinabs' warning
    that DVS-layer pooling is not reflected in monitored events. ``pass_sensor_events``
    (raw sensor output) is not modelled; the DVS layer adds no delay.

Time (``timing=True``)
  - Each core is a FIFO server at ``profile.synops_per_s[core]``. One SynOp is one weight
    added to one neuron; an event touching P output positions of a core with C output
    channels costs P·C SynOps, zero weights included. An event arriving at ``a`` starts at
    ``max(a, busy_until)``, occupies the core for ``SynOps / rate``, and its spikes leave
    ``pipeline_latency_us`` after that (the latency delays, it does not occupy the core).
  - Input events arrive at their ``t``; spikes reach destination cores when they leave.
    A core serves events in the order the depth-first walk reaches them.
  - Time is float64 µs internally; output ``t`` is rounded to the nearest µs and outputs of
    one ``run`` are returned sorted by that time (stably, so ties keep depth-first order).
  - ``timing=False`` is an ideal chip: every output carries the ``t`` of the input event
    that caused it.

State across calls
  - Neuron states, queues (``busy_until``), decimator counters, leak ticks and chip time
    persist across ``run`` calls; inputs of a later call may not start before the chip time
    already reached. ``reset()`` restores ``initial_states`` and zeroes everything else.
  - ``count_served_per_period(period_us)`` counts the SynOps each core serves per period of
    chip time, when it serves them (an event's service spanning a period boundary is split by
    time), in the same pass as everything else; the emulated power monitor samples from it.
  - ``seed`` (default ``profile.noise.seed``) seeds the chip's noise generator; the stream
    continues across ``run`` calls and ``reset()`` does not rewind it.

Noise (``profile.noise``; all off by default, and then the model is deterministic)
  - ``input_loss``: each input event is lost with this probability before it reaches a core.
  - ``spike_loss``: each spike a core emits is lost with this probability, before the
    decimator: it is neither monitored nor routed.
  - ``spurious_spikes``: each event a core serves makes, with this probability, one random
    neuron of that core emit a spike that nothing caused (its state is untouched); it leaves
    with the event's own spikes and is routed like them.
  - ``jitter_us``: each monitored output is stamped late by a uniform 0..jitter_us µs; only
    the stamp, not the time the spike travels on.
  - ``stochastic_cores``: on these cores (sinabs' issues: cores 0-1 run asynchronously and
    give different outputs for identical input) the spikes one event causes are routed in
    random order, and each spike, with probability ``misaddressed_spikes``, carries the
    address of a neuron drawn uniformly from the core (the neuron that fired is reset as
    usual; the spike is monitored and routed under the drawn address). Spike counts per
    core stay; which neurons they are counted for does not.
"""

from __future__ import annotations

import numpy as np

from hil.chip.profile import ChipProfile, load_profile
from hil.emulator import kernels
from hil.emulator.faults import silence_dead_cores
from hil.emulator.packing import PackedChip, pack
from hil.emulator.program import N_CORES, ChipProgram
from hil.events import SPIKE_DTYPE

DVS_SENSOR_SIZE = 128


class Speck:
    """One emulated chip, configured once, fed event arrays by ``run``."""

    def __init__(
        self,
        config_or_program: object,
        profile: str | ChipProfile = "speck2f",
        seed: int | None = None,
        timing: bool = True,
    ) -> None:
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        if isinstance(config_or_program, ChipProgram):
            self.program = config_or_program
        else:
            from hil.emulator.compile import program_from_config

            self.program = program_from_config(config_or_program, self.profile)
        self.program = silence_dead_cores(self.program, self.profile.faults.dead_cores)
        self.timing = bool(timing)
        noise = self.profile.noise
        self._noisy = noise.enabled
        self._noise = np.array(
            [
                noise.input_loss,
                noise.spike_loss,
                noise.spurious_spikes,
                noise.jitter_us,
                noise.misaddressed_spikes,
            ],
            np.float64,
        )
        self._stochastic = np.zeros(N_CORES, np.bool_)
        self._stochastic[[c for c in noise.stochastic_cores if c < N_CORES]] = True
        self._rng_state = _generator_state(noise.seed if seed is None else seed)
        self._chip: PackedChip = pack(self.program, self.profile.decimator_intervals)
        self._items = np.empty((4096, kernels.N_ITEM_FIELDS), np.int64)
        self._item_times = np.empty(4096, np.float64)
        self._synops_per_us = np.asarray(self.profile.synops_per_s[:N_CORES], np.float64) / 1e6
        self._slow_clk_hz = float(self.profile.slow_clk_hz)
        self._period_us = 0.0  # 0: SynOps are not counted per period
        self.reset()

    @property
    def slow_clk_hz(self) -> float:
        """The slow clock's rate (leak ticks, the readout's cycle)."""
        return self._slow_clk_hz

    @property
    def now_us(self) -> float:
        """Chip time: the latest input release time (or ``until``) seen since ``reset()``."""
        return self._now_us

    def reset(self) -> None:
        """Restore initial states; empty the queues; set chip time and counters to zero."""
        self._states = self._chip.initial_states.copy()
        self._busy_until = np.zeros(N_CORES, np.float64)
        self._ticks_done = np.zeros(N_CORES, np.int64)
        self._decimator_count = np.zeros(N_CORES, np.int64)
        self._synops_served = np.zeros(N_CORES, np.int64)
        self._served = np.zeros((64, N_CORES), np.float64)
        self._first_period = 0
        self._now_us = 0.0
        self._tick_origin_us = 0.0
        self._tick_period_us = 1e6 / self._slow_clk_hz

    @property
    def synops_served(self) -> np.ndarray:
        """SynOps each core has executed since ``reset()`` (a copy)."""
        return self._synops_served.copy()

    def count_served_per_period(self, period_us: float | None) -> None:
        """From chip time now on, count the SynOps each core serves per period of
        ``period_us`` chip time (periods start at chip time zero), or stop with None. The
        count follows the cores' queues: work is counted when a core serves it. Read the
        counts with ``take_served_per_period``."""
        if period_us is not None and not period_us > 0:
            raise ValueError(f"a counting period must be positive; got {period_us} µs")
        self._period_us = float(period_us or 0.0)
        self._served[:] = 0.0
        self._first_period = int(self._now_us // self._period_us) if self._period_us else 0

    def take_served_per_period(self) -> tuple[int, np.ndarray]:
        """The SynOps each core served in each whole period the chip time has passed and not
        taken yet: (the first period's index, float64 (periods, cores)). No work can reach a
        period once chip time has passed it, so these counts are final."""
        if not self._period_us:
            raise RuntimeError("SynOps are not counted per period: call count_served_per_period")
        first = self._first_period
        count = int(self._now_us // self._period_us) - first
        if count <= 0:
            return first, np.zeros((0, N_CORES), np.float64)
        taken = np.zeros((count, N_CORES), np.float64)
        kept = min(count, len(self._served))
        taken[:kept] = self._served[:kept]
        self._served[: len(self._served) - kept] = self._served[kept:]
        self._served[len(self._served) - kept :] = 0.0
        self._first_period = first + count
        return first, taken

    def set_slow_clk_rate(self, hz: float) -> None:
        """Change the slow-clock (leak) rate from the current chip time on."""
        if hz <= 0:
            raise ValueError(f"slow clock rate must be positive; got {hz}")
        self._leak_all_until(self._now_us)
        self._slow_clk_hz = float(hz)
        self._tick_origin_us = self._now_us
        self._tick_period_us = 1e6 / self._slow_clk_hz
        self._ticks_done[:] = 0

    def neuron_states(self, core: int) -> np.ndarray:
        """A copy of ``core``'s neuron states, (C, H, W) int16."""
        self._check_core(core)
        return self._chip.state_view(self._states, core).copy()

    def write_neuron_state(self, core: int, neuron: tuple[int, int, int], value: int) -> None:
        """Set one neuron's state; ``neuron`` is (feature, y, x). Saturates to int16."""
        self._check_core(core)
        states = self._chip.state_view(self._states, core)
        states[neuron] = np.clip(int(value), -(2**15), 2**15 - 1)

    def run(self, spikes: np.ndarray, until: float | None = None) -> np.ndarray:
        """Feed ``spikes`` (SPIKE_DTYPE, t non-decreasing) and return every monitored output.

        ``until`` advances chip time past the last input (leak ticks up to it are applied).
        """
        spikes = self._checked(spikes)
        fields, times = self._execute(spikes)
        if len(spikes):
            self._now_us = max(self._now_us, float(spikes["t"][-1]))
        if until is not None:
            self._now_us = max(self._now_us, float(until))
        self._leak_all_until(self._now_us)
        return _as_spikes(fields, times, sort=self.timing or self._noise[kernels.JITTER_US] > 0)

    def _execute(self, spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drive the compiled loop, doubling a buffer whenever it reports one full."""
        columns = [spikes[name].astype(np.int64) for name in ("layer", "x", "y", "feature")]
        out = np.empty((max(1024, 2 * len(spikes)), 4), np.int64)
        out_t = np.empty(len(out), np.float64)
        chip = self._chip
        next_input = top = n_out = 0
        while True:
            status, next_input, top, n_out = kernels.run_events(
                *columns, spikes["t"], next_input,
                self._items, self._item_times, top, out, out_t, n_out,
                chip.geometry, chip.ranges, chip.routes, chip.dvs, chip.weights, chip.biases,
                self._states, self._synops_per_us, float(self.profile.pipeline_latency_us),
                self.timing, self._busy_until, self._ticks_done, self._decimator_count,
                self._tick_origin_us, self._tick_period_us,
                self._noisy, self._noise, self._stochastic, self._rng_state,
                self._synops_served, self._period_us, self._first_period, self._served,
            )  # fmt: skip
            if status == kernels.DONE:
                return out[:n_out], out_t[:n_out]
            if status == kernels.STACK_FULL:
                self._items, self._item_times = _doubled(self._items), _doubled(self._item_times)
            elif status == kernels.PERIODS_FULL:
                self._served = _doubled(self._served)
                self._served[len(self._served) // 2 :] = 0.0
            else:
                out, out_t = _doubled(out), _doubled(out_t)

    def _leak_all_until(self, t_us: float) -> None:
        geometry = self._chip.geometry
        for core in np.flatnonzero(geometry[:, kernels.LEAK]):
            kernels.leak_until(
                int(core), t_us, geometry, self._chip.biases, self._states,
                self._ticks_done, self._tick_origin_us, self._tick_period_us,
            )  # fmt: skip

    def _check_core(self, core: int) -> None:
        if not 0 <= core < N_CORES or not self._chip.geometry[core, kernels.USED]:
            used = np.flatnonzero(self._chip.geometry[:, kernels.USED]).tolist()
            raise ValueError(f"core {core} is not used by this configuration (used: {used})")

    def _checked(self, spikes: np.ndarray) -> np.ndarray:
        """``spikes`` as SPIKE_DTYPE; ValueError naming the first bad index and field."""
        spikes = np.asarray(spikes)
        if spikes.dtype.names is None or not set(SPIKE_DTYPE.names) <= set(spikes.dtype.names):
            raise ValueError(f"expected a SPIKE_DTYPE array; got dtype {spikes.dtype}")
        if spikes.dtype != SPIKE_DTYPE:
            converted = np.empty(len(spikes), SPIKE_DTYPE)
            for name in SPIKE_DTYPE.names:
                converted[name] = spikes[name]
            spikes = converted
        if len(spikes) == 0:
            return spikes
        t = spikes["t"]
        if t[0] < self._now_us:
            raise ValueError(
                f"spikes[0].t = {t[0]} is before the chip time {self._now_us:g} µs already "
                "reached (call reset() to start over)"
            )
        backwards = np.flatnonzero(t[1:] < t[:-1])
        if len(backwards):
            i = int(backwards[0]) + 1
            raise ValueError(
                f"spikes[{i}].t = {t[i]} < spikes[{i - 1}].t = {t[i - 1]}: t must be non-decreasing"
            )
        limits = self._input_limits()
        layer = spikes["layer"].astype(np.int64)
        bad = np.flatnonzero(limits[layer, 0] == 0)
        if len(bad):
            i = int(bad[0])
            raise ValueError(
                f"spikes[{i}].layer = {layer[i]}: not a core used by this configuration "
                f"nor the DVS layer {kernels.DVS_LAYER}"
            )
        for column, name in ((1, "feature"), (2, "y"), (3, "x")):
            values = spikes[name].astype(np.int64)
            bad = np.flatnonzero(values >= limits[layer, column])
            if len(bad):
                i = int(bad[0])
                raise ValueError(
                    f"spikes[{i}].{name} = {values[i]} is outside layer {layer[i]}'s input "
                    f"({name} must be < {limits[layer[i], column]})"
                )
        return spikes

    def _input_limits(self) -> np.ndarray:
        """Per layer id 0..255: (accepted, channels, height, width) of its input."""
        limits = np.zeros((256, 4), np.int64)
        geometry = self._chip.geometry
        limits[:N_CORES, 0] = geometry[:, kernels.USED]
        limits[:N_CORES, 1:] = geometry[:, kernels.IN_C : kernels.IN_W + 1]
        limits[kernels.DVS_LAYER] = (1, 2, DVS_SENSOR_SIZE, DVS_SENSOR_SIZE)
        return limits


def _generator_state(seed: int) -> np.ndarray:
    """A non-zero xorshift state from ``seed`` (splitmix64), as the kernels' ``rng``."""
    mask = (1 << 64) - 1
    z = (int(seed) + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return np.array([z or 1], np.uint64)


def _doubled(array: np.ndarray) -> np.ndarray:
    bigger = np.empty((2 * len(array), *array.shape[1:]), array.dtype)
    bigger[: len(array)] = array
    return bigger


def _as_spikes(fields: np.ndarray, times: np.ndarray, sort: bool) -> np.ndarray:
    if sort:
        order = np.argsort(times, kind="stable")
        fields, times = fields[order], times[order]
    out = np.empty(len(times), SPIKE_DTYPE)
    out["layer"] = fields[:, kernels.OUT_LAYER]
    out["x"] = fields[:, kernels.OUT_X]
    out["y"] = fields[:, kernels.OUT_Y]
    out["feature"] = fields[:, kernels.OUT_FEATURE]
    out["t"] = np.rint(times)
    return out
