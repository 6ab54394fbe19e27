"""A calibration as a device profile: the file ``speck-hil calibrate --out`` writes.

The file has the layout of ``hil/chip/profiles/``, complete, so it works both as
``--profile FILE`` (merged into the shipped profile) and on its own. Measured figures replace
the base profile's; cores not measured keep the base's budgets, and ``[calibration]`` says
which were measured, on which board, when, how sure, and holds every step of the sweep.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import tomli_w

from hil import __version__
from hil.calibration.search import GROWTH_FRACTION, SYNOPS_PER_EVENT, CalibrationResult, Step
from hil.chip.profile import ChipProfile
from hil.files import write_atomic

HEADER = """\
# Device profile written by `speck-hil calibrate` ({when}, {device}).
# Measured: SynOps/s budgets of cores {cores}{latency}{power}.
# Everything else is copied from the base profile ({base}). [calibration] says how.
"""


def profile_document(result: CalibrationResult, base: ChipProfile) -> dict:
    """The profile, as a TOML-ready dict."""
    measured = sorted(result.cores)
    budgets = list(base.synops_per_s)
    for core in measured:
        budgets[core] = result.cores[core].synops_per_s
    latency = result.pipeline_latency_us()
    document = {
        "chip": {
            "name": base.name,
            "device_types": list(base.device_types),
            "n_cores": base.n_cores,
        },
        "memory": {k: list(v) for k, v in dataclasses.asdict(base.memory).items()},
        "limits": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(base.limits).items()
        },
        "timing": {
            "synops_per_s": budgets,
            "synops_per_s_measured": set(measured) >= set(range(base.n_cores)),
            # µs resolution can put a near-zero latency a fraction below zero
            "pipeline_latency_us": max(latency[0], 0.0) if latency else base.pipeline_latency_us,
            "slow_clk_hz": base.slow_clk_hz,
        },
        "decimator": {"intervals": list(base.decimator_intervals)},
        "stall": {"max_delay_us": base.max_delay_us, "max_drain_us": base.max_drain_us},
    }
    power = _power_section(result, base)
    if power is not None:
        document["power"] = power
    document["calibration"] = _calibration_section(result, latency)
    return document


def write_profile(path: str | os.PathLike, result: CalibrationResult, base: ChipProfile) -> Path:
    """Write the profile atomically; returns its path."""
    path = Path(path)
    document = profile_document(result, base)
    latency = result.pipeline_latency_us()
    header = HEADER.format(
        when=result.date,
        device=result.device,
        cores=",".join(map(str, sorted(result.cores))) or "none",
        latency=", pipeline latency" if latency else "",
        power=", power" if "power" in document and document["power"]["measured"] else "",
        base=base.source,
    )
    if result.partial:
        header += f"# PARTIAL: {result.error or 'not every requested core was measured'}\n"
    text = header + "\n" + tomli_w.dumps(document)
    return write_atomic(path, text)


def _power_section(result: CalibrationResult, base: ChipProfile) -> dict | None:
    fitted = [core for core in result.cores.values() if core.energy_per_synop_j is not None]
    if not fitted:
        return None if base.power is None else _as_dict(base.power)
    energy = list(base.power.energy_per_synop_j) if base.power else [0.0] * base.n_cores
    for core in fitted:
        energy[core.core] = core.energy_per_synop_j
    rails = len(fitted[0].idle_w)
    idle = [float(sum(c.idle_w[r] for c in fitted) / len(fitted)) for r in range(rails)]
    slopes = [sum(max(c.rail_slopes[r], 0.0) for c in fitted) for r in range(rails)]
    share = [s / sum(slopes) for s in slopes] if sum(slopes) > 0 else [1.0 / rails] * rails
    names = list(base.power.rails) if base.power and len(base.power.rails) == rails else None
    return {
        "rails": names or [f"rail{r}" for r in range(rails)],
        "idle_w": idle,
        "energy_per_synop_j": energy,
        "synop_rail_share": share,
        "sample_noise_w": base.power.sample_noise_w if base.power else 0.0,
        "measured": True,
    }


def _as_dict(power) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(power).items()}


def _calibration_section(result: CalibrationResult, latency) -> dict:
    cores = sorted(result.cores)
    section = {
        "tool": f"speck-hil {__version__}",
        "device": str(result.device),
        "serial": result.device.serial,
        "samna_version": result.device.samna_version,
        "date": result.date,
        "cores": cores,
        "partial": result.partial,
        "error": result.error or "",
        "method": (
            f"per core: one layer costing {SYNOPS_PER_EVENT} SynOps per input event; regular "
            "streams at increasing load, bracketed then bisected on whether the output delay "
            f"grows by more than {GROWTH_FRACTION:.1%} of the step; budget = the geometric "
            "middle of the last bracket, both corrected for that threshold. The interval is "
            "the search's resolution, not a bound on systematic error: a chip that loses "
            "input events reads high by the fraction lost"
        ),
        "synops_per_s_ci": [list(result.cores[c].synops_per_s_ci) for c in cores],
        "latency_us_per_core": [result.cores[c].latency_us for c in cores],
        "wall_s": round(result.wall_s, 3),
        "device_time_s": round(result.device_time_s, 3),
    }
    if latency:
        section["pipeline_latency_us_range"] = list(latency[1])
    section["sweep"] = [_step_row(step) for step in result.steps]
    return section


def _step_row(step: Step) -> dict:
    row = {
        "core": step.core,
        "step": step.index,
        "phase": step.phase,
        "offered_synops_per_s": step.offered_synops_per_s,
        "events_per_s": step.events_per_s,
        "duration_us": step.duration_us,
        "events_in": step.events_in,
        "events_out": step.events_out,
        "delay_start_us": step.delay_start_us,
        "delay_end_us": step.delay_end_us,
        "verdict": step.verdict,
    }
    if step.power_w is not None:
        row["power_w"] = list(step.power_w)
    return row
