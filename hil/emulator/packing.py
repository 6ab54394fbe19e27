"""Flatten a ``ChipProgram`` into the concatenated buffers the compiled loop reads.

Per core, weights are stored as (c_in, ky, kx, c_out) and states as (y, x, c_out): the
innermost loop of an input event then walks both buffers contiguously, feature fastest, which is
also the order in which touched neurons are visited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hil.emulator import kernels as k
from hil.emulator.program import N_CORES, ChipProgram, CoreProgram, Destination, DvsProgram


@dataclass(frozen=True)
class PackedChip:
    geometry: np.ndarray  # int64 (N_CORES, N_CORE_FIELDS)
    ranges: np.ndarray  # int64, (first, last) output index per input row / column, all cores
    routes: np.ndarray  # int64 (N_CORES + 1, 2, N_DEST_FIELDS); the last row is the DVS layer's
    dvs: np.ndarray  # int64 (N_DVS_FIELDS,)
    weights: np.ndarray  # int8, all cores
    biases: np.ndarray  # int64, all cores
    initial_states: np.ndarray  # int16, all cores

    def state_view(self, states: np.ndarray, core: int) -> np.ndarray:
        """One core's slice of ``states`` as (C, H, W)."""
        g = self.geometry[core]
        c, h, w = int(g[k.OUT_C]), int(g[k.OUT_H]), int(g[k.OUT_W])
        start = int(g[k.STATE_OFFSET])
        return states[start : start + c * h * w].reshape(h, w, c).transpose(2, 0, 1)


def pack(program: ChipProgram, decimator_intervals: tuple[int, ...]) -> PackedChip:
    """Pack ``program``; raise ValueError for what the loop cannot execute."""
    geometry = np.zeros((N_CORES, k.N_CORE_FIELDS), np.int64)
    routes = np.zeros((N_CORES + 1, 2, k.N_DEST_FIELDS), np.int64)
    weights, biases, states, ranges = [], [], [], []
    offsets = np.zeros(4, np.int64)  # weights, states, biases, ranges
    for core in program.cores:
        if not 0 <= core.index < N_CORES:
            raise ValueError(f"core index {core.index} outside 0..{N_CORES - 1}")
        if not core.used:
            continue
        row = geometry[core.index]
        _fill_core(row, core, decimator_intervals)
        _fill_routes(routes[core.index], core.destinations)
        row[k.WEIGHT_OFFSET], row[k.STATE_OFFSET], row[k.BIAS_OFFSET] = offsets[:3]
        row[k.ROWS_OFFSET] = offsets[3]
        rows = _covering_outputs(core.input_shape[1], core, axis=0)
        row[k.COLUMNS_OFFSET] = offsets[3] + rows.size
        columns = _covering_outputs(core.input_shape[2], core, axis=1)
        w = np.ascontiguousarray(np.asarray(core.weights, np.int8).transpose(1, 2, 3, 0))
        s = np.ascontiguousarray(np.asarray(core.initial_states, np.int16).transpose(1, 2, 0))
        b = np.asarray(core.biases, np.int64).reshape(-1)
        if b.size != core.output_shape[0]:  # a core configured without biases leaks nothing
            b = np.zeros(core.output_shape[0], np.int64)
        weights.append(w.reshape(-1))
        states.append(s.reshape(-1))
        biases.append(b)
        ranges += [rows, columns]
        offsets += (w.size, s.size, b.size, rows.size + columns.size)
    dvs = np.zeros(k.N_DVS_FIELDS, np.int64)
    _fill_dvs(dvs, program.dvs)
    _fill_routes(routes[k.DVS_SOURCE], program.dvs.destinations)
    _check_routes(geometry, routes)
    return PackedChip(
        geometry=geometry,
        ranges=_concat(ranges, np.int64),
        routes=routes,
        dvs=dvs,
        weights=_concat(weights, np.int8),
        biases=_concat(biases, np.int64),
        initial_states=_concat(states, np.int16),
    )


def _fill_core(row: np.ndarray, core: CoreProgram, decimator_intervals: tuple[int, ...]) -> None:
    c_out, c_in = core.output_shape[0], core.input_shape[0]
    expected = (c_out, c_in, core.kernel_size, core.kernel_size)
    if tuple(np.shape(core.weights)) != expected:
        raise ValueError(
            f"core {core.index}: weights have shape {np.shape(core.weights)}, expected {expected}"
        )
    if tuple(np.shape(core.initial_states)) != tuple(core.output_shape):
        raise ValueError(
            f"core {core.index}: initial_states have shape {np.shape(core.initial_states)}, "
            f"expected {tuple(core.output_shape)}"
        )
    if core.threshold_high <= 0:
        raise ValueError(f"core {core.index}: threshold_high must be positive")
    row[k.USED] = 1
    row[k.IN_C : k.IN_W + 1] = core.input_shape
    row[k.OUT_C : k.OUT_W + 1] = core.output_shape
    row[k.KERNEL] = core.kernel_size
    row[k.STRIDE_Y], row[k.STRIDE_X] = core.stride
    row[k.PAD_Y], row[k.PAD_X] = core.padding
    row[k.THRESHOLD_HIGH] = core.threshold_high
    row[k.THRESHOLD_LOW] = core.threshold_low
    row[k.RETURN_TO_ZERO] = bool(core.return_to_zero)
    row[k.MONITOR] = bool(core.monitor_enable)
    row[k.LEAK] = bool(core.leak_enable)
    if core.decimator_enable:
        row[k.DECIMATE_EVERY] = decimator_intervals[core.decimator_interval]


def _covering_outputs(size: int, core: CoreProgram, axis: int) -> np.ndarray:
    """Per input index along ``axis``: the first and last output index whose kernel window
    (cross-correlation: input = output * stride - padding + kernel offset) covers it,
    flattened as (first, last) pairs; first > last where none does."""
    stride, padding = core.stride[axis], core.padding[axis]
    n_out = core.output_shape[1 + axis]
    position = np.arange(size) + padding
    first = np.maximum(0, -(-(position - core.kernel_size + 1) // stride))
    last = np.minimum(n_out - 1, position // stride)
    return np.stack([first, last], axis=1).reshape(-1)


def _fill_dvs(row: np.ndarray, dvs: DvsProgram) -> None:
    row[k.DVS_ON] = bool(dvs.on_channel)
    row[k.DVS_OFF] = bool(dvs.off_channel)
    row[k.DVS_MERGE] = bool(dvs.merge)
    row[k.DVS_POOL_Y], row[k.DVS_POOL_X] = (max(1, int(p)) for p in dvs.pooling)
    row[k.DVS_ORIGIN_Y], row[k.DVS_ORIGIN_X] = dvs.origin
    row[k.DVS_CUT_Y], row[k.DVS_CUT_X] = dvs.cut
    row[k.DVS_MIRROR_Y], row[k.DVS_MIRROR_X] = (bool(m) for m in dvs.mirror)
    row[k.DVS_DIAGONAL] = bool(dvs.mirror_diagonal)
    row[k.DVS_MONITOR] = bool(dvs.monitor_enable)


def _fill_routes(rows: np.ndarray, destinations: tuple[Destination, ...]) -> None:
    for row, dest in zip(rows, destinations[:2], strict=False):
        row[k.DEST_ENABLE] = bool(dest.enable)
        row[k.DEST_LAYER] = dest.layer
        row[k.DEST_POOL] = max(1, int(dest.pooling))
        row[k.DEST_SHIFT] = dest.feature_shift


def _check_routes(geometry: np.ndarray, routes: np.ndarray) -> None:
    for source, rows in enumerate(routes):
        if source < N_CORES and not geometry[source, k.USED]:
            continue
        name = f"core {source}" if source < N_CORES else "the DVS layer"
        for d, row in enumerate(rows):
            target = int(row[k.DEST_LAYER])
            if row[k.DEST_ENABLE] and not (0 <= target < N_CORES and geometry[target, k.USED]):
                raise ValueError(
                    f"{name}: destination {d} is enabled but targets unused core {target}"
                )


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(1, dtype)
