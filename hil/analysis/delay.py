"""Output delay: how long after its cause each output left the chip.

A chip does not say which input caused an output. The estimate that works on a real chip as
well as on the emulator: replay the same inputs through an ideal, zero-latency chip (the
emulator with ``timing=False``), whose every spike carries the time of its cause, and pair
each ideal spike with the same neuron's spike on the device; the difference of their times is
that output's delay.

A real chip loses spikes, adds some and jitters their times, so the pairing cannot count
spikes (pairing each neuron's k-th spikes reads every spike after a lost one as delayed by
the neuron's inter-spike interval). It rests on what a stall is instead: a delay that every
output caused at about the same time shares, because one queue delays them all, in order.
The ideal spikes, in time order (the cause's time), are cut into windows of
``WINDOW_SPIKES``.

1. **Delay by counts.** A queue keeps its outputs in order, so the delay of the outputs
   caused at t is how much later the device's cumulative output count of a core reaches the
   fraction of its total that the ideal chip's reaches at t (counts normalised, so a loss
   that is uniform cancels). Misaddressed spikes cannot touch it; losses that are not
   uniform move it by milliseconds, so it is believed only where pairing confirms it: more
   of a window's ideal spikes (pooled with ``COUNT_POOL`` neighbours on each side) find a
   device spike of their neuron within ``COUNT_TOLERANCE_REL`` of the counts' delay than
   chance gives (the same band's hits on either side of it, or at no delay at all, whichever
   is more), by ``MIN_COUNT_SCORE`` standard deviations and ``MIN_COUNT_SUPPORT`` of them.
2. **Delay by pairing**, for the windows the counts could not confirm. For a sample of each
   window, every device spike of the same neuron from ``EARLY_US`` before to ``max_lag_us``
   after (the ``MAX_CANDIDATES`` nearest) is a candidate partner, and the candidate delays
   are histogrammed on bins ``BIN_REL`` of the delay wide (``BIN_REL·BIN_FLOOR_US`` near
   zero), pooled with the neighbouring windows'. Wrong partners spread evenly over the delays
   each anchor can reach; true ones pile up at the window's delay. The window's delay is the
   bin that stands out most from that chance level, kept when it does so by ``MIN_SCORE``
   standard deviations and holds an excess of ``MIN_SUPPORT`` of the sampled spikes, is near
   the running median over ``SMOOTH_WINDOWS`` such windows (chance does not repeat itself
   from window to window), and is not beyond what the counts allow
   (``COUNT_BOUND_FACTOR`` times their delay plus ``COUNT_BOUND_US``: a chance pile-up of
   partners in a backlog's dense drain). A window without either takes its delay from its
   neighbours' for pairing; the per-window delays reported come only from windows with one.
3. **Better than no delay.** Whichever way a window's delay was found, it is believed only
   when more of its ideal spikes (pooled as in 1.) find a device spike of their neuron near
   that delay than at no delay at all: by ``MIN_GAIN_OVER_ZERO`` of them for pairing's
   delays beyond ``TOLERANCE_US``; for the counts' beyond ``2·TOLERANCE_US`` (which pairing
   already confirmed) by ``MIN_COUNT_GAIN_OVER_ZERO``, in ``MIN_CONFIRMED_RUN`` windows in a
   row. Where a neuron fires more often than the bands are wide (a dense network, many
   outputs per input), every band finds a spike and no delay can be shown: chance pile-ups
   there once read 2.5 ms on a chip done 4 µs after its last input; and a chip whose noise
   compounds over six layers gave the ideal chip's neurons partners at its (wrong) count
   delay a fifth more often than at zero. Such windows are left unresolved, and a stall
   verdict reads them as "cannot tell".
4. **Pairs.** Each ideal spike is paired with its neuron's device spike nearest that curve,
   kept when within ``TOLERANCE_US`` or ``TOLERANCE_REL`` of the curve's delay (a device spike
   goes to one ideal spike at most). The windows' median delays then draw a finer curve, and
   the pairing is repeated ``REFINEMENTS`` times. Device spikes left without a partner (a
   spurious spike) and ideal ones (a lost spike, or one whose cause was lost) are counted.

The per-window median delay (``window_delay_us``, against the window's median cause time) is
what a stall verdict reads; the paired outputs give the distribution.

A run's outputs are matched core by core (``output_delays``): a queue delays one core's
outputs, and a window of every core's spikes has the median of the busiest cores, so an
overloaded core whose outputs are a few percent of the run's was once read as 4 µs of delay
while its outputs drained 1.6 s after the last input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hil.backends.base import Run
from hil.chip.profile import ChipProfile, NoiseModel
from hil.emulator.speck import Speck

WINDOW_SPIKES = 128
MAX_WINDOWS = 2000
SAMPLE_PER_WINDOW = 32
MAX_CANDIDATES = 128
BIN_FLOOR_US = 1000.0
BIN_REL = 0.02
EARLY_US = 200  # a jittered output may leave before its ideal twin's time
MIN_SCORE = 8.0
MIN_SUPPORT = 0.1
COUNT_TOLERANCE_REL = 0.05  # the counts' delay is as good as a few % in a backlog
COUNT_POOL = 4
MIN_COUNT_SCORE = 5.0  # one delay tested per window, not the best of many: less is chance
MIN_COUNT_SUPPORT = 0.05
COUNT_BOUND_FACTOR = 2.0  # pairing's delay is chance when it exceeds the counts' by this
COUNT_BOUND_US = 10_000.0  # factor and this much (a chance pile-up in a dense drain)
MIN_GAIN_OVER_ZERO = 0.3  # of a window's spikes: more partners at its delay than at none
MIN_COUNT_GAIN_OVER_ZERO = 0.1  # the same for the counts' delays, which pairing confirmed
MIN_CONFIRMED_RUN = 8  # windows in a row: a queue's delay is shared by neighbours
SMOOTH_WINDOWS = 5
TOLERANCE_US = 500.0
TOLERANCE_REL = 0.25
_SMALL_US = 2 * TOLERANCE_US  # a delay that cannot be told from none
MIN_MATCHED_PER_WINDOW = 16
REFINEMENTS = 2  # pairings against the curve the previous pairing's window medians draw


@dataclass(frozen=True)
class OutputDelays:
    """Per matched output: its chip time ``t_us``, its ``delay_us`` and its ``layer`` (core),
    in time order; per window of ideal spikes: its median cause time and median delay."""

    t_us: np.ndarray
    delay_us: np.ndarray
    layer: np.ndarray
    unmatched_device: int
    unmatched_reference: int
    window_cause_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    window_delay_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    #: the core each window's spikes came from (all windows of one core when matched alone)
    window_core: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: per core: windows of ideal spikes in all, and how many of them showed a delay
    windows_per_core: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return len(self.delay_us)

    def of_core(self, core: int) -> tuple[np.ndarray, np.ndarray]:
        """The cause times and delays of the windows of ``core``'s spikes."""
        mine = self.window_core == core
        return self.window_cause_us[mine], self.window_delay_us[mine]


def zero_latency_outputs(run: Run) -> np.ndarray:
    """What an ideal chip with the run's configuration gives for the run's inputs."""
    deployment = run.deployment
    return ideal_chip(deployment.mapping.config, deployment.device.profile).run(run.inputs)


def ideal_chip(config_or_program: object, profile: ChipProfile) -> Speck:
    """The emulator without time and without noise (a profile a lab believes may carry some):
    every output at the time of the input event that caused it."""
    return Speck(config_or_program, dataclasses.replace(profile, noise=NoiseModel()), timing=False)


def output_delays(run: Run) -> OutputDelays | None:
    """Delays of the run's outputs, core by core; None for a time-stepped run, which has no
    delays."""
    if run.dt_us is not None:
        return None
    return match_per_core(run.outputs, zero_latency_outputs(run))


def match_per_core(device: np.ndarray, reference: np.ndarray) -> OutputDelays:
    """``match_outputs`` on each core's spikes alone, merged (windows keep their core)."""
    cores = np.union1d(np.unique(device["layer"]), np.unique(reference["layer"]))
    parts = {
        int(core): match_outputs(
            device[device["layer"] == core], reference[reference["layer"] == core]
        )
        for core in cores
    }
    if not parts:
        return _unmatched(device, reference)
    merged = {
        name: np.concatenate([getattr(part, name) for part in parts.values()])
        for name in ("t_us", "delay_us", "layer", "window_cause_us", "window_delay_us")
    }
    order = np.argsort(merged["t_us"], kind="stable")
    return OutputDelays(
        t_us=merged["t_us"][order],
        delay_us=merged["delay_us"][order],
        layer=merged["layer"][order],
        unmatched_device=sum(part.unmatched_device for part in parts.values()),
        unmatched_reference=sum(part.unmatched_reference for part in parts.values()),
        window_cause_us=merged["window_cause_us"],
        window_delay_us=merged["window_delay_us"],
        window_core=np.concatenate(
            [np.full(len(part.window_cause_us), core, np.uint8) for core, part in parts.items()]
        ),
        windows_per_core={
            core: part.windows_per_core.get(core, (0, 0)) for core, part in parts.items()
        },
    )


def match_outputs(
    device: np.ndarray, reference: np.ndarray, max_lag_us: int | None = None
) -> OutputDelays:
    """Pair ``device`` spikes with ``reference`` (ideal) spikes of the same neuron, tolerating
    lost, extra and jittered spikes (see the module docstring). ``max_lag_us`` bounds the
    delay that can be found; by default, the span of both runs."""
    if len(reference) == 0 or len(device) == 0:  # a core whose outputs all went missing:
        unresolved = {int(layer): (1, 0) for layer in np.unique(reference["layer"])}
        return dataclasses.replace(_unmatched(device, reference), windows_per_core=unresolved)
    reference = reference[np.argsort(reference["t"], kind="stable")]
    if len(reference) == 0:  # the ideal chip stays silent: no output has a cause to pair with
        return _unmatched(device, reference)
    packing = _Packing(device, reference)
    if max_lag_us is None:
        max_lag_us = packing.span_us
    reference_codes = packing.codes(reference)
    device_codes = np.sort(packing.codes(device))
    windows = _windows(len(reference))
    counted = _counted_curve(
        reference_codes, device_codes, windows, _count_delay(device, reference), packing
    )
    paired = _delay_curve(reference_codes, device_codes, windows, max_lag_us, packing)
    window_delay, strong = counted
    large = window_delay > _SMALL_US
    strong[large] &= _beats_zero(
        reference_codes, device_codes, windows, window_delay, packing, MIN_COUNT_GAIN_OVER_ZERO
    )[large]
    strong &= ~large | _in_long_runs(strong)
    if paired is not None:  # pairing's own delay where the counts' was not confirmed,
        paired_delay, paired_shown = paired  # unless the counts rule it out
        paired_shown &= paired_delay <= COUNT_BOUND_FACTOR * window_delay + COUNT_BOUND_US
        small = (paired_delay <= _SMALL_US) & (window_delay <= _SMALL_US)
        paired_delay = np.where(small, np.minimum(paired_delay, window_delay), paired_delay)
        paired_shown &= (paired_delay <= TOLERANCE_US) | _beats_zero(
            reference_codes, device_codes, windows, paired_delay, packing
        )
        window_delay = np.where(strong, window_delay, paired_delay)
        strong |= paired_shown
    resolved = {
        int(layer): (len(strong), int(strong.sum())) for layer in np.unique(reference["layer"])
    }
    if not strong.any():
        return dataclasses.replace(_unmatched(device, reference), windows_per_core=resolved)
    shown = np.flatnonzero(strong)
    curve = np.interp(np.arange(len(strong)), shown, window_delay[shown])[windows]
    cause_t = packing.time(reference_codes)
    ceiling = curve + _tolerance(curve)  # refinement follows the evidence, never beyond it
    for _ in range(REFINEMENTS + 1):
        partner, delay, kept = _pair(reference_codes, device_codes, curve, packing)
        window_cause, window_delay = _window_medians(
            cause_t, delay, kept & strong[windows], windows
        )
        if len(window_cause) == 0:
            break
        window_delay = np.minimum(window_delay, np.interp(window_cause, cause_t, ceiling))
        curve = np.interp(cause_t, window_cause, window_delay)
    chosen = device_codes[partner[kept]]
    order = np.argsort(packing.time(chosen), kind="stable")
    matched = int(kept.sum())
    return OutputDelays(
        t_us=packing.time(chosen)[order],
        delay_us=delay[kept][order],
        layer=packing.layer(chosen)[order],
        unmatched_device=len(device) - matched,
        unmatched_reference=len(reference) - matched,
        window_cause_us=window_cause,
        window_delay_us=window_delay,
        window_core=_window_cores(reference, cause_t, window_cause),
        windows_per_core=resolved,
    )


def _window_cores(reference: np.ndarray, cause_t: np.ndarray, window_cause: np.ndarray):
    """The core of each reported window: the core of the ideal spike at its median cause."""
    if len(reference) == 0 or len(window_cause) == 0:
        return np.zeros(len(window_cause), np.uint8)
    index = np.minimum(np.searchsorted(cause_t, window_cause), len(reference) - 1)
    return reference["layer"][index].astype(np.uint8)


def _beats_zero(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    window_delay: np.ndarray,
    packing: _Packing,
    min_gain: float = MIN_GAIN_OVER_ZERO,
) -> np.ndarray:
    """Per window: whether its delay finds partners for more of its anchors (pooled with
    ``COUNT_POOL`` neighbours on each side) than no delay does, by ``min_gain`` of them."""
    delay, half, anchors_with_spike, anchors = _bands(
        anchor_codes, device_codes, windows, window_delay, packing
    )
    gain = anchors_with_spike(delay - half, delay + half) - anchors_with_spike(-half, half)
    return gain >= min_gain * anchors


def _bands(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    window_delay: np.ndarray,
    packing: _Packing,
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray]:
    """Per anchor (sorted by code: nearly sorted keys search fast) its window's delay and the
    band's half width around it; a count, per window pooled with ``COUNT_POOL`` neighbours on
    each side, of the anchors that find a device spike of their neuron between two delays;
    and the anchors per pooled window."""
    n_windows = int(windows[-1]) + 1
    by_code = np.argsort(anchor_codes, kind="stable")
    anchor_codes, windows = anchor_codes[by_code], windows[by_code]
    delay = window_delay[windows]
    half = np.maximum(TOLERANCE_US, COUNT_TOLERANCE_REL * delay)

    def anchors_with_spike(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        found = _has_spike(anchor_codes, device_codes, low, high, packing)
        return _pooled(np.bincount(windows, found, minlength=n_windows), COUNT_POOL)

    anchors = _pooled(np.bincount(windows, minlength=n_windows), COUNT_POOL)
    return delay, half, anchors_with_spike, anchors


def _in_long_runs(flags: np.ndarray) -> np.ndarray:
    """Where ``flags`` is True in a run of at least ``MIN_CONFIRMED_RUN`` windows (or half of
    them all, for a core with few): a delay one window shows alone is chance."""
    edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    needed = min(MIN_CONFIRMED_RUN, -(-len(flags) // 2))
    kept = np.zeros(len(flags), bool)
    for start, stop in zip(starts, stops, strict=True):
        kept[start:stop] = stop - start >= needed
    return kept


def _pair(
    anchor_codes: np.ndarray, device_codes: np.ndarray, curve: np.ndarray, packing: _Packing
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each anchor's partner (the device spike of its neuron nearest the curve), the delay to
    it, and whether the pair is kept (near enough the curve, and the partner's closest)."""
    partner, found = _nearest_partner(
        anchor_codes + np.rint(curve).astype(np.int64), device_codes, packing
    )
    delay = device_codes[partner] - anchor_codes
    error = np.abs(delay - curve)
    kept = found & (error <= _tolerance(curve))
    kept &= _first_claim(partner, error, kept)
    return partner, delay, kept


def _tolerance(curve: np.ndarray) -> np.ndarray:
    return np.maximum(TOLERANCE_US, TOLERANCE_REL * np.abs(curve))


def _first_claim(partner: np.ndarray, error: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Each device spike pairs with one reference spike at most: the closest to the curve."""
    candidates = np.flatnonzero(kept)
    rank = np.argsort(error[candidates], kind="stable")  # closest first, then by partner
    order = candidates[rank][np.argsort(partner[candidates][rank], kind="stable")]
    first = np.r_[True, partner[order][1:] != partner[order][:-1]]
    claimed = np.zeros(len(partner), bool)
    claimed[order[first]] = True
    return claimed


class _Packing:
    """(neuron, time) packed into one int64 per spike, neuron bits above time bits, so one
    sort orders spikes by neuron, then time, and a time range of one neuron is a code range."""

    def __init__(self, device: np.ndarray, reference: np.ndarray):
        both = [device, reference]
        self.widths = [
            _bits(max(int(s[name].max(initial=0)) for s in both))
            for name in ("layer", "feature", "y", "x")
        ]
        self.t0 = min(int(s["t"].min(initial=0)) for s in both)
        self.span_us = max(int(s["t"].max(initial=0)) for s in both) - self.t0
        # room below zero and above the span, so a shifted time never leaves its neuron
        self.t_bits = _bits(3 * self.span_us + 2 * EARLY_US + 2)
        self.offset = self.span_us + EARLY_US + 1
        if sum(self.widths) + self.t_bits > 62:
            raise ValueError("coordinates and times too wide to match in 63 bits")
        self.time_mask = (1 << self.t_bits) - 1

    def codes(self, spikes: np.ndarray) -> np.ndarray:
        code = np.zeros(len(spikes), np.int64)
        for name, width in zip(("layer", "feature", "y", "x"), self.widths, strict=True):
            code = (code << width) | spikes[name].astype(np.int64)
        return (code << self.t_bits) | (spikes["t"].astype(np.int64) - self.t0 + self.offset)

    def shifted(self, codes: np.ndarray, shift_us: np.ndarray) -> np.ndarray:
        """Codes moved by ``shift_us`` in time, kept within their neuron's code range."""
        moved = (codes & self.time_mask) + np.rint(shift_us).astype(np.int64)
        return (codes & ~self.time_mask) | np.clip(moved, 0, self.time_mask)

    def time(self, codes: np.ndarray) -> np.ndarray:
        return (codes & self.time_mask) - self.offset + self.t0

    def neuron(self, codes: np.ndarray) -> np.ndarray:
        return codes >> self.t_bits

    def layer(self, codes: np.ndarray) -> np.ndarray:
        return (codes >> (self.t_bits + sum(self.widths[1:]))).astype(np.uint8)


def _windows(n: int) -> np.ndarray:
    """Window index of each of ``n`` time-ordered spikes: runs of at least WINDOW_SPIKES."""
    size = max(WINDOW_SPIKES, -(-n // MAX_WINDOWS))
    return np.arange(n) // size


def _delay_curve(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    max_lag_us: int,
    packing: _Packing,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The shared delay (µs) of each window of anchors (ideal spikes, in time order), and
    which windows showed one (the others interpolate between them); None when none did.

    A window's delay is the bin whose count stands out most from what chance gives: each
    sampled anchor's candidates, spread over the delays it could reach as the device's
    outputs are spread over that time.
    """
    if len(anchor_codes) == 0 or len(device_codes) == 0:
        return None
    n_windows = int(windows[-1]) + 1
    sample = _sample(windows, n_windows)
    codes = anchor_codes[sample]
    window = windows[sample]
    n_bins = int(_bin_of(np.array([max_lag_us]))[0]) + 1
    low, high, owner, delay = _candidates(codes, device_codes, max_lag_us)
    histogram = _per_window_bins(window[owner], _bin_of(delay), 1.0, n_windows, n_bins)
    expected = _chance(codes, device_codes, window, low, high, max_lag_us, packing, n_windows)
    mode, strong = _standing_out(_pooled(histogram), _pooled(expected), window, n_windows)
    if not strong.any():
        return None
    edges = _bin_edges(n_bins)
    return _consistent_curve((edges[:-1] + edges[1:]) / 2, mode, strong, n_windows)


def _candidates(
    codes: np.ndarray, device_codes: np.ndarray, max_lag_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each anchor's candidate partners: the range ``low:high`` of same-neuron device spikes
    it could have caused (at most ``MAX_CANDIDATES``), and per candidate its anchor and delay."""
    low = _searchsorted(device_codes, codes - EARLY_US, side="left")
    high = np.minimum(
        _searchsorted(device_codes, codes + max_lag_us, side="right"), low + MAX_CANDIDATES
    )
    counts = high - low
    owner = np.repeat(np.arange(len(codes)), counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    delay = device_codes[low[owner] + position] - codes[owner]  # same neuron: times differ
    return low, high, owner, delay


def _chance(
    codes: np.ndarray,
    device_codes: np.ndarray,
    window: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    max_lag_us: int,
    packing: _Packing,
    n_windows: int,
) -> np.ndarray:
    """Candidates per window and delay bin that chance gives: an anchor's candidates spread
    over the delays it reaches as the device's output rate is spread over that time (a chip
    working off a backlog emits densely, and so do its spurious and misaddressed spikes)."""
    counts = high - low
    n_bins = int(_bin_of(np.array([max_lag_us]))[0]) + 1
    anchor_t = packing.time(codes)
    device_t = np.sort(packing.time(device_codes))
    reach = np.minimum(max_lag_us, device_t[-1] - anchor_t).astype(np.float64)
    full = counts == MAX_CANDIDATES
    reach[full] = (device_codes[high[full] - 1] - codes[full]).astype(np.float64)
    reach = np.maximum(reach, 0.0)
    outputs_reached = np.searchsorted(device_t, anchor_t + reach, side="right") - np.searchsorted(
        device_t, anchor_t - EARLY_US
    )
    share = counts / np.maximum(outputs_reached, 1)  # candidates per device output reached
    steps = _per_window_bins(window, np.zeros(len(codes), np.int64), share, n_windows, n_bins)
    steps -= _per_window_bins(
        window, np.minimum(_bin_of(reach) + 1, n_bins - 1), share, n_windows, n_bins
    )
    window_t = anchor_t[np.searchsorted(window, np.arange(n_windows))]
    outputs_in_bin = np.diff(
        np.searchsorted(device_t, window_t[:, None] + _bin_edges(n_bins)[None, :]), axis=1
    ).astype(np.float64)
    return np.cumsum(steps, axis=1) * outputs_in_bin


def _standing_out(
    histogram: np.ndarray, expected: np.ndarray, window: np.ndarray, n_windows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per window, the delay bin that stands out most from chance, and whether it stands out
    enough (``MIN_SCORE`` and ``MIN_SUPPORT`` of the window's sampled anchors)."""
    count3, expected3 = _three_bins(histogram), _three_bins(expected)
    score = (count3 - expected3) / np.sqrt(expected3 + 1.0)
    mode = np.argmax(score, axis=1)
    rows = np.arange(n_windows)
    excess = count3[rows, mode] - expected3[rows, mode]
    sampled = _pooled(np.bincount(window, minlength=n_windows).astype(np.float64))
    strong = (score[rows, mode] >= MIN_SCORE) & (excess >= MIN_SUPPORT * np.maximum(sampled, 1))
    return mode, strong


def _consistent_curve(
    centres: np.ndarray, mode: np.ndarray, strong: np.ndarray, n_windows: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """A delay no neighbour shares is chance: smooth over the windows that showed one, keep
    those near the smoothed delay, and draw the curve through them."""
    shown = np.flatnonzero(strong)
    smoothed = _running_median(centres[mode][shown], SMOOTH_WINDOWS)
    consistent = np.abs(centres[mode][shown] - smoothed) <= _tolerance(smoothed)
    strong[shown[~consistent]] = False
    shown, smoothed = shown[consistent], smoothed[consistent]
    if len(shown) == 0:
        return None
    return np.interp(np.arange(n_windows), shown, smoothed), strong


def _count_delay(device: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per reference spike (in time order): how much later its core's device outputs reached
    the same fraction of their total, i.e. the horizontal distance between the core's
    normalised cumulative output counts. A queue keeps its outputs in order, so this is the
    delay a stall makes, whatever addresses the spikes carry and however many are lost
    uniformly; but it reads a few ms of delay where losses are not uniform."""
    delay = np.zeros(len(reference))
    for layer in np.unique(reference["layer"]):
        mine = reference["layer"] == layer
        device_t = np.sort(device["t"][device["layer"] == layer]).astype(np.float64)
        if len(device_t) == 0:
            continue
        n = int(mine.sum())
        rank = (np.arange(n) + 0.5) * (len(device_t) / n) - 0.5
        delay[mine] = np.interp(rank, np.arange(len(device_t)), device_t) - reference["t"][mine]
    return delay


def _counted_curve(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    windows: np.ndarray,
    count_delay: np.ndarray,
    packing: _Packing,
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's delay by counts (its anchors' median, at least 0), and whether pairing
    confirms it: more of the window's anchors (pooled with ``COUNT_POOL`` neighbours on each
    side) find a device spike of their neuron within ``COUNT_TOLERANCE_REL`` of that delay
    than chance gives, by ``MIN_COUNT_SCORE`` standard deviations and ``MIN_COUNT_SUPPORT`` of the
    anchors. Chance is what equally wide bands give on either side of the delay, or at no
    delay at all, whichever is more (so a window whose outputs are not delayed is never
    confirmed at the delay its counts read)."""
    n_windows = int(windows[-1]) + 1
    window_delay = np.maximum(_window_median(count_delay, windows, n_windows), 0.0)
    delay, half, anchors_with_spike, anchors = _bands(
        anchor_codes, device_codes, windows, window_delay, packing
    )
    hits = anchors_with_spike(delay - half, delay + half)
    beside = anchors_with_spike(delay - 3 * half, delay - half - 1)
    beside += anchors_with_spike(delay + half + 1, delay + 3 * half)
    chance = np.maximum(beside / 2, anchors_with_spike(-half, half))
    score = (hits - chance) / np.sqrt(1.5 * chance + 1.0)
    confirmed = (score >= MIN_COUNT_SCORE) & (hits - chance >= MIN_COUNT_SUPPORT * anchors)
    return window_delay, confirmed


def _has_spike(
    anchor_codes: np.ndarray,
    device_codes: np.ndarray,
    low_us: np.ndarray,
    high_us: np.ndarray,
    packing: _Packing,
) -> np.ndarray:
    """1.0 where the anchor's neuron has a device spike from ``low_us`` to ``high_us``
    (inclusive) after the anchor, else 0.0; fastest with anchors in code order."""
    low = np.searchsorted(device_codes, packing.shifted(anchor_codes, low_us), side="left")
    high = np.searchsorted(device_codes, packing.shifted(anchor_codes, high_us), side="right")
    return (high > low).astype(np.float64)


def _window_median(values: np.ndarray, windows: np.ndarray, n_windows: int) -> np.ndarray:
    """Median of ``values`` over each window (windows are runs of the same index)."""
    order = np.lexsort((values, windows))
    starts = np.searchsorted(windows, np.arange(n_windows))
    sizes = np.diff(np.r_[starts, len(windows)])
    return values[order][starts + sizes // 2]


def _per_window_bins(
    window: np.ndarray, bins: np.ndarray, weights, n_windows: int, n_bins: int
) -> np.ndarray:
    """Sum of ``weights`` per (window, bin), as an (n_windows, n_bins) array."""
    weights = np.broadcast_to(np.asarray(weights, np.float64), window.shape)
    flat = np.bincount(window * n_bins + bins, weights, minlength=n_windows * n_bins)
    return flat.reshape(n_windows, n_bins)


def _sample(windows: np.ndarray, n_windows: int) -> np.ndarray:
    """Up to SAMPLE_PER_WINDOW spikes of each window, spread evenly over it."""
    starts = np.searchsorted(windows, np.arange(n_windows))
    sizes = np.diff(np.r_[starts, len(windows)])
    step = np.maximum(sizes // SAMPLE_PER_WINDOW, 1)
    picks = np.minimum(sizes, SAMPLE_PER_WINDOW)
    owner = np.repeat(np.arange(n_windows), picks)
    position = np.arange(picks.sum()) - np.repeat(np.cumsum(picks) - picks, picks)
    return starts[owner] + position * step[owner]


def _bin_edges(n_bins: int) -> np.ndarray:
    """Bin 0 holds early outputs (delay < 0); bin k ≥ 1 starts at BIN_FLOOR·((1+REL)^(k-1) − 1),
    so bins are BIN_REL·BIN_FLOOR wide at zero delay and BIN_REL of the delay far from it."""
    k = np.arange(n_bins)
    return np.r_[-EARLY_US - 1.0, BIN_FLOOR_US * ((1 + BIN_REL) ** k - 1)]


def _bin_of(delay: np.ndarray) -> np.ndarray:
    positive = np.maximum(delay, 0).astype(np.float64)
    index = 1 + np.floor(np.log1p(positive / BIN_FLOOR_US) / np.log1p(BIN_REL)).astype(np.int64)
    return np.where(delay < 0, 0, index)


def _pooled(values: np.ndarray, half: int = 1) -> np.ndarray:
    """Each window's row (or value) summed with its ``half`` neighbours on either side."""
    total = np.cumsum(np.r_[np.zeros((1, *values.shape[1:])), values], axis=0)
    rows = np.arange(len(values))
    return total[np.minimum(rows + half + 1, len(values))] - total[np.maximum(rows - half, 0)]


def _three_bins(histogram: np.ndarray) -> np.ndarray:
    """Each bin summed with its two neighbours."""
    summed = histogram.copy()
    summed[:, 1:] += histogram[:, :-1]
    summed[:, :-1] += histogram[:, 1:]
    return summed


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    if len(values) < width:
        return np.full_like(values, np.median(values))
    half = width // 2
    padded = np.r_[np.full(half, values[0]), values, np.full(half, values[-1])]
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def _nearest_partner(
    target_codes: np.ndarray, device_codes: np.ndarray, packing: _Packing
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the device spike of the same neuron nearest each target; whether there is one."""
    after = _searchsorted(device_codes, target_codes)
    before = np.maximum(after - 1, 0)
    after = np.minimum(after, len(device_codes) - 1)
    neuron = packing.neuron(target_codes)
    best = np.zeros(len(target_codes), np.int64)
    best_gap = np.full(len(target_codes), np.inf)
    for position in (before, after):
        code = device_codes[position]
        gap = np.abs(code - target_codes).astype(np.float64)
        better = (packing.neuron(code) == neuron) & (gap < best_gap)
        best_gap[better] = gap[better]
        best[better] = position[better]
    return best, np.isfinite(best_gap)


def _window_medians(
    cause_us: np.ndarray, delay: np.ndarray, kept: np.ndarray, windows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Median cause time and median kept delay of each window with enough kept outputs."""
    window = windows[kept]
    if len(window) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    times = cause_us[kept]  # in time order, so windows are runs
    kept_delay = delay[kept]
    by_delay = np.argsort(kept_delay, kind="stable")
    sorted_delay = kept_delay[by_delay][np.argsort(window[by_delay], kind="stable")]
    starts = np.flatnonzero(np.r_[True, window[1:] != window[:-1]])
    sizes = np.diff(np.r_[starts, len(window)])
    middle = (starts + sizes // 2)[sizes >= MIN_MATCHED_PER_WINDOW]
    return times[middle].astype(np.int64), sorted_delay[middle].astype(np.float64)


def _searchsorted(sorted_codes: np.ndarray, keys: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted`` for keys in any order: sorted first, which is many times faster."""
    order = np.argsort(keys, kind="stable")
    found = np.empty(len(keys), np.int64)
    found[order] = np.searchsorted(sorted_codes, keys[order], side=side)
    return found


def _unmatched(device: np.ndarray, reference: np.ndarray) -> OutputDelays:
    empty = np.zeros(0, np.int64)
    return OutputDelays(
        t_us=empty,
        delay_us=empty,
        layer=np.zeros(0, np.uint8),
        unmatched_device=len(device),
        unmatched_reference=len(reference),
        window_cause_us=empty,
        window_delay_us=np.zeros(0, np.float64),
    )


def _bits(value: int) -> int:
    return max(int(value).bit_length(), 1)
