"""The compiled event loop: every per-event operation of the emulator lives here.

The loop sees only flat arrays (see ``packing``): a geometry table with one int64 row per core,
all cores' weights, biases and states concatenated, the DVS layer as one int64 row, and a
routes table with the two destinations of each core and of the DVS layer (its last row). A
receptive-range table gives, per core and input row (column), the first and last output row
(column) whose kernel window covers it, so that no event pays for integer divisions. The column
indices below are the contract between ``packing`` and this module.

Noise (``NoiseModel``, off unless ``noisy``) is drawn from a xorshift64* generator whose
64-bit state lives in a one-element array the caller owns, so that a chip's random stream is
reproducible from its seed and continues across calls. With ``noisy`` false no draw is made and
the deterministic loops run unchanged.

Depth-first routing uses an explicit stack of work items instead of recursion. An item is
either an input delivered to a core, a spike a core emitted (to be decimated, monitored and
routed), or a sensor event entering the DVS layer. Items are popped last-in first-out, so a
spike's whole downstream cascade completes before the next spike is looked at.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DVS_LAYER = 13
DVS_SOURCE = 9  # the DVS layer's row in the routes table, after the nine cores
INT16_MIN = -32768
INT16_MAX = 32767

# Geometry table columns (one row per core).
USED = 0
IN_C = 1
IN_H = 2
IN_W = 3
OUT_C = 4
OUT_H = 5
OUT_W = 6
KERNEL = 7
STRIDE_Y = 8
STRIDE_X = 9
PAD_Y = 10
PAD_X = 11
THRESHOLD_HIGH = 12
THRESHOLD_LOW = 13
RETURN_TO_ZERO = 14
MONITOR = 15
LEAK = 16
DECIMATE_EVERY = 17  # 0 = decimator off
WEIGHT_OFFSET = 18
STATE_OFFSET = 19
BIAS_OFFSET = 20
ROWS_OFFSET = 21  # into the receptive-range table: per input y, first and last output row
COLUMNS_OFFSET = 22  # likewise per input x: first and last output column
N_CORE_FIELDS = 23

# Routes table: (source, destination 0 or 1, field); source N_CORES is the DVS layer.
DEST_ENABLE = 0
DEST_LAYER = 1
DEST_POOL = 2
DEST_SHIFT = 3
N_DEST_FIELDS = 4

# DVS layer row.
DVS_ON = 0
DVS_OFF = 1
DVS_MERGE = 2
DVS_POOL_Y = 3
DVS_POOL_X = 4
DVS_ORIGIN_Y = 5
DVS_ORIGIN_X = 6
DVS_CUT_Y = 7
DVS_CUT_X = 8
DVS_MIRROR_Y = 9
DVS_MIRROR_X = 10
DVS_DIAGONAL = 11
DVS_MONITOR = 12
N_DVS_FIELDS = 13

# Work item kinds and item columns.
DELIVERY = 0
SPIKE = 1
SENSOR = 2
ITEM_KIND = 0
ITEM_LAYER = 1
ITEM_FEATURE = 2
ITEM_Y = 3
ITEM_X = 4
N_ITEM_FIELDS = 5

# What ``run_events`` returns as its status.
DONE = 0
STACK_FULL = 1
OUTPUT_FULL = 2
PERIODS_FULL = 3

# Noise parameters (``noise`` array), in the order ``NoiseModel`` lists them.
INPUT_LOSS = 0
SPIKE_LOSS = 1
SPURIOUS_SPIKES = 2
JITTER_US = 3
MISADDRESSED = 4
N_NOISE_FIELDS = 5

# Output columns.
OUT_LAYER = 0
OUT_X = 1
OUT_Y = 2
OUT_FEATURE = 3


_UNIT = 1.0 / 9007199254740992.0  # 2**-53: 53 random bits to a float in [0, 1)


@njit(cache=True)
def uniform(rng):
    """A float in [0, 1) from the xorshift64* generator whose state is ``rng[0]`` (never 0)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)) * _UNIT


@njit(cache=True)
def _below(rng, n):
    """A uniform integer in 0..n-1."""
    return min(int(uniform(rng) * n), n - 1)


@njit(cache=True)
def _shuffle(items, times, first, stop, rng):
    """Put items first..stop-1 in random order (Fisher-Yates)."""
    for i in range(stop - 1, first, -1):
        j = first + _below(rng, i - first + 1)
        for c in range(N_ITEM_FIELDS):
            items[i, c], items[j, c] = items[j, c], items[i, c]
        times[i], times[j] = times[j], times[i]


@njit(cache=True)
def _push(items, times, top, kind, layer, feature, y, x, t):
    items[top, ITEM_KIND] = kind
    items[top, ITEM_LAYER] = layer
    items[top, ITEM_FEATURE] = feature
    items[top, ITEM_Y] = y
    items[top, ITEM_X] = x
    times[top] = t
    return top + 1


@njit(cache=True)
def _push_destinations(items, times, top, routes, source, geometry, feature, y, x, t):
    """Push deliveries to ``source``'s two destinations, the second first so that the first
    is served first. Deliveries outside the target's input map are dropped."""
    for d in range(1, -1, -1):
        if routes[source, d, DEST_ENABLE] == 0:
            continue
        target = routes[source, d, DEST_LAYER]
        pool = routes[source, d, DEST_POOL]
        tx = x // pool
        ty = y // pool
        tf = feature + routes[source, d, DEST_SHIFT]
        if tf >= geometry[target, IN_C] or ty >= geometry[target, IN_H]:
            continue
        if tx >= geometry[target, IN_W]:
            continue
        top = _push(items, times, top, DELIVERY, target, tf, ty, tx, t)
    return top


@njit(cache=True)
def _clamped(v, low):
    """Saturate to int16, then hold at or above ``threshold_low``."""
    if v > INT16_MAX:
        v = INT16_MAX
    elif v < INT16_MIN:
        v = INT16_MIN
    if v < low:
        v = low
    return v


@njit(cache=True)
def _integrate(
    layer, feature, y, x, oy_first, oy_last, ox_first, ox_last, done,
    geometry, weights, states, items, times, top,
):  # fmt: skip
    """Add one input's weights to its projective field and push the spikes it causes.

    The field is walked backwards so that the spikes pop in (y, x, feature) order. Adding
    (saturating, clamped at threshold_low) is a branch-free loop per output position; the
    threshold pass runs only where some neuron reached the threshold.
    """
    k = geometry[layer, KERNEL]
    n_out_c = geometry[layer, OUT_C]
    high = geometry[layer, THRESHOLD_HIGH]
    low = geometry[layer, THRESHOLD_LOW]
    to_zero = geometry[layer, RETURN_TO_ZERO] != 0
    w_offset = geometry[layer, WEIGHT_OFFSET] + feature * k * k * n_out_c
    s_offset = geometry[layer, STATE_OFFSET]
    out_w = geometry[layer, OUT_W]
    sy = geometry[layer, STRIDE_Y]
    sx = geometry[layer, STRIDE_X]
    ky0 = y + geometry[layer, PAD_Y]
    kx0 = x + geometry[layer, PAD_X]
    low32 = np.int32(low)
    top32 = np.int32(INT16_MAX)
    for oy in range(oy_last, oy_first - 1, -1):
        ky = ky0 - oy * sy
        for ox in range(ox_last, ox_first - 1, -1):
            kx = kx0 - ox * sx
            w_base = w_offset + (ky * k + kx) * n_out_c
            s_base = s_offset + (oy * out_w + ox) * n_out_c
            # Slices and int32 let LLVM vectorise this loop (several times faster).
            field_states = states[s_base : s_base + n_out_c]
            field_weights = weights[w_base : w_base + n_out_c]
            peak = np.int32(INT16_MIN)
            for o in range(n_out_c):
                v = np.int32(field_states[o]) + np.int32(field_weights[o])
                v = min(max(v, low32), top32)
                field_states[o] = np.int16(v)
                peak = max(peak, v)
            if peak < high:
                continue
            for o in range(n_out_c - 1, -1, -1):
                v = np.int64(field_states[o])
                if v >= high:
                    v = 0 if to_zero else v - high
                    field_states[o] = max(v, low)
                    top = _push(items, times, top, SPIKE, layer, o, oy, ox, done)
    return top


@njit(cache=True)
def _random_neuron(layer, geometry, rng):
    """(feature, y, x) of a neuron of ``layer`` drawn uniformly."""
    feature = _below(rng, geometry[layer, OUT_C])
    y = _below(rng, geometry[layer, OUT_H])
    x = _below(rng, geometry[layer, OUT_W])
    return feature, y, x


@njit(cache=True)
def leak_until(core, t_us, geometry, biases, states, ticks_done, tick_origin_us, tick_period_us):
    """Apply every slow-clock tick at or before ``t_us`` that ``core`` has not seen yet."""
    ticks = int(np.floor((t_us - tick_origin_us) / tick_period_us))
    pending = ticks - ticks_done[core]
    if pending <= 0:
        return
    ticks_done[core] = ticks
    low = geometry[core, THRESHOLD_LOW]
    n_channels = geometry[core, OUT_C]
    n_neurons = geometry[core, OUT_H] * geometry[core, OUT_W] * n_channels
    state_offset = geometry[core, STATE_OFFSET]
    bias_offset = geometry[core, BIAS_OFFSET]
    for i in range(n_neurons):
        bias = biases[bias_offset + i % n_channels]
        # One tick, then the rest at once: after one tick v >= low, and from there repeated
        # saturating, clamped additions of one constant equal a single one.
        v = _clamped(np.int64(states[state_offset + i]) + bias, low)
        if pending > 1:
            v = _clamped(v + (pending - 1) * bias, low)
        states[state_offset + i] = v


@njit(cache=True)
def _stamped(t, noisy, noise, rng):
    """The time an output is stamped with: ``t``, late by up to JITTER_US on a noisy chip."""
    if noisy and noise[JITTER_US] > 0:
        return t + uniform(rng) * noise[JITTER_US]
    return t


@njit(cache=True)
def _emit(out, out_t, n_out, layer, x, y, feature, t):
    out[n_out, OUT_LAYER] = layer
    out[n_out, OUT_X] = x
    out[n_out, OUT_Y] = y
    out[n_out, OUT_FEATURE] = feature
    out_t[n_out] = t
    return n_out + 1


@njit(cache=True)
def _split_served(served, first_row, last_row, core, start, end, origin_us, period_us, rate):
    """Add the SynOps a core serves from ``start`` to ``end`` (µs, at ``rate`` SynOps/µs)
    to the periods ``first_row``..``last_row`` of ``served`` by the time spent in each."""
    for row in range(first_row, last_row + 1):
        period_start = origin_us + row * period_us
        overlap = min(end, period_start + period_us) - max(start, period_start)
        served[row, core] += max(overlap, 0.0) * rate


@njit(cache=True)
def run_events(
    in_layer, in_x, in_y, in_feature, in_t, next_input,
    items, times, top, out, out_t, n_out,
    geometry, ranges, routes, dvs, weights, biases, states,
    synops_per_us, latency_us, timing, busy_until, ticks_done, decimator_count,
    tick_origin_us, tick_period_us, noisy, noise, stochastic, rng, synops_served,
    period_us, first_period, served,
):  # fmt: skip
    """Process inputs from ``next_input`` on; return (status, next_input, top, n_out).

    With ``noisy``, ``noise`` (float64, indexed by INPUT_LOSS ... MISADDRESSED) says how
    the chip strays: inputs and emitted spikes lost, a spurious spike per served event,
    output timestamps late by up to JITTER_US, and on cores where ``stochastic`` is set,
    the spikes of one event routed in random order, some with a random neuron's address.
    ``rng`` is the generator's state (see ``uniform``).

    Buffers are never reallocated here: reassigning arrays inside the loop costs reference
    counting on every iteration, several times the work of an event. Instead, when the work
    stack (``items``, ``times``) or the output (``out``, ``out_t``) is too small for the next
    item, the loop returns STACK_FULL or OUTPUT_FULL with that item still on the stack; the
    caller enlarges the buffer and calls again with the returned positions. ``states``,
    ``busy_until``, ``ticks_done``, ``decimator_count`` and ``synops_served`` (SynOps each
    core has executed) are updated in place.

    With ``period_us`` > 0, ``served[p - first_period, core]`` counts the SynOps ``core``
    serves in period p (chip time ``p * period_us`` up to the next period), when it serves
    them (after any wait in its queue): the power monitor's samples, from one pass over the
    events. A period past the end of ``served`` returns PERIODS_FULL like a full stack.
    """
    n_in = in_layer.shape[0]
    counting = period_us > 0
    origin_us = first_period * period_us if counting else 0.0
    per_period = 1.0 / period_us if counting else 0.0
    stack_capacity = items.shape[0]
    out_capacity = out.shape[0]
    while True:
        if top == 0:
            if next_input == n_in:
                return DONE, next_input, top, n_out
            if noisy and noise[INPUT_LOSS] > 0 and uniform(rng) < noise[INPUT_LOSS]:
                next_input += 1
                continue
            kind = SENSOR if in_layer[next_input] == DVS_LAYER else DELIVERY
            top = _push(
                items, times, 0, kind, in_layer[next_input], in_feature[next_input],
                in_y[next_input], in_x[next_input], float(in_t[next_input]),
            )  # fmt: skip
            next_input += 1
        current = top - 1
        kind = items[current, ITEM_KIND]
        layer = items[current, ITEM_LAYER]
        feature = items[current, ITEM_FEATURE]
        y = items[current, ITEM_Y]
        x = items[current, ITEM_X]
        arrival = times[current]

        if kind == DELIVERY:
            rows = geometry[layer, ROWS_OFFSET] + 2 * y
            columns = geometry[layer, COLUMNS_OFFSET] + 2 * x
            oy_first, oy_last = ranges[rows], ranges[rows + 1]
            ox_first, ox_last = ranges[columns], ranges[columns + 1]
            synops = (
                max(0, oy_last - oy_first + 1)
                * max(0, ox_last - ox_first + 1)
                * geometry[layer, OUT_C]
            )
            if current + synops + 1 > stack_capacity:
                return STACK_FULL, next_input, top, n_out
            start = max(arrival, busy_until[layer]) if timing else arrival
            end = start + synops / synops_per_us[layer] if timing else start
            if counting:
                # Chip time never goes below the origin; int() is floor here, and cheaper
                # than float // (an fmod per call, which doubled the cost of a delivery).
                first_row = int(max(start - origin_us, 0.0) * per_period)
                last_row = int(max(end - origin_us, 0.0) * per_period)
                if last_row >= served.shape[0]:
                    return PERIODS_FULL, next_input, top, n_out
                if first_row == last_row:
                    served[first_row, layer] += synops
                else:
                    _split_served(
                        served, first_row, last_row, layer, start, end,
                        origin_us, period_us, synops_per_us[layer],
                    )  # fmt: skip
            top = current
            synops_served[layer] += synops
            if geometry[layer, LEAK]:
                leak_until(
                    layer, start, geometry, biases, states,
                    ticks_done, tick_origin_us, tick_period_us,
                )  # fmt: skip
            done = arrival
            if timing:
                busy_until[layer] = end
                done = busy_until[layer] + latency_us
            if not noisy:
                top = _integrate(
                    layer, feature, y, x, oy_first, oy_last, ox_first, ox_last, done,
                    geometry, weights, states, items, times, top,
                )  # fmt: skip
                continue
            first = top
            top = _integrate(
                layer, feature, y, x, oy_first, oy_last, ox_first, ox_last, done,
                geometry, weights, states, items, times, top,
            )  # fmt: skip
            if stochastic[layer]:
                _shuffle(items, times, first, top, rng)
            if noise[SPURIOUS_SPIKES] > 0 and uniform(rng) < noise[SPURIOUS_SPIKES]:
                f, ny, nx = _random_neuron(layer, geometry, rng)
                top = _push(items, times, top, SPIKE, layer, f, ny, nx, done)
            continue

        if current + 2 > stack_capacity:
            return STACK_FULL, next_input, top, n_out
        if n_out == out_capacity:
            return OUTPUT_FULL, next_input, top, n_out
        top = current

        if kind == SPIKE:
            if noisy:
                if noise[SPIKE_LOSS] > 0 and uniform(rng) < noise[SPIKE_LOSS]:
                    continue
                if stochastic[layer] and uniform(rng) < noise[MISADDRESSED]:
                    feature, y, x = _random_neuron(layer, geometry, rng)
            every = geometry[layer, DECIMATE_EVERY]
            if every > 0:
                decimator_count[layer] += 1
                if decimator_count[layer] < every:
                    continue
                decimator_count[layer] = 0
            if geometry[layer, MONITOR]:
                stamp = _stamped(arrival, noisy, noise, rng)
                n_out = _emit(out, out_t, n_out, layer, x, y, feature, stamp)
            top = _push_destinations(
                items, times, top, routes, layer, geometry, feature, y, x, arrival
            )
            continue

        if (feature == 1 and dvs[DVS_ON] == 0) or (feature == 0 and dvs[DVS_OFF] == 0):
            continue
        channel = 0 if dvs[DVS_MERGE] else feature
        if dvs[DVS_MONITOR]:
            stamp = _stamped(arrival, noisy, noise, rng)
            n_out = _emit(out, out_t, n_out, DVS_LAYER, x, y, channel, stamp)
        y = y // dvs[DVS_POOL_Y]
        x = x // dvs[DVS_POOL_X]
        if (
            y < dvs[DVS_ORIGIN_Y]
            or y > dvs[DVS_CUT_Y]
            or x < dvs[DVS_ORIGIN_X]
            or x > dvs[DVS_CUT_X]
        ):
            continue
        y = dvs[DVS_CUT_Y] - y if dvs[DVS_MIRROR_Y] else y - dvs[DVS_ORIGIN_Y]
        x = dvs[DVS_CUT_X] - x if dvs[DVS_MIRROR_X] else x - dvs[DVS_ORIGIN_X]
        if dvs[DVS_DIAGONAL]:
            x, y = y, x
        top = _push_destinations(
            items, times, top, routes, DVS_SOURCE, geometry, channel, y, x, arrival
        )
