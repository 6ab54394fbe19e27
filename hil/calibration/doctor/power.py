"""The power monitor check: every rail reports, at the rate asked for, beside the published
idle figures."""

from __future__ import annotations

import numpy as np

from hil.calibration.doctor.checkup import THRESHOLD_HIGH, Checkup
from hil.calibration.doctor.findings import FAIL, PASS

#: The published idle power of a Speck 2f devkit per rail (sinabs' power_monitoring notebook),
#: µW, and the datasheet's offset per rail.
PUBLISHED_IDLE_UW = {"io": 62, "ram": 52, "logic": 367, "pixel_digital": 79, "pixel_analog": 611}
PUBLISHED_OFFSET_UW = 50
POWER_HZ = 100.0


def power(checkup: Checkup) -> None:
    """The power monitor: every rail the profile names reports, at the rate asked for;
    idle power per rail beside the published devkit figures."""
    bench, power = checkup.bench, checkup.bench.board.power
    profile = bench.device.profile
    rails = list(profile.power.rails) if profile.power is not None else []
    if power is None:
        checkup.report.facts["power"] = None
        checkup.add(
            "power",
            FAIL,
            "no power monitor answered (get_power_monitor failed, or this samna has no "
            "power sink class)",
            advice="a Speck 2f devkit has one: check samna's power class names for this "
            "version (…_measurement, …_monitor) and the board type",
        )
        return
    core = bench.n_cores - 1  # not the timing checks' core: its inputs are its own
    config, marker = bench.config(core, threshold=THRESHOLD_HIGH)
    bench.load(config, core, marker)
    window_us = round(checkup.plan.power_s * 1e6)
    started = bench.start_stop_watch()
    power.clear()
    # one input at the window's end, held until due: on the emulated devkit, chip time
    # (and so the monitor's samples) moves with the events; a real board just idles
    bench.write([bench.spike(core, window_us)])
    bench.drain(window_us, started)
    bench.sleep(1 / POWER_HZ)  # the last sample period's sample
    bench.read(core)
    bench.device_s += checkup.plan.power_s
    samples = power.samples()
    if power.problem:  # every sample stamped 0: they cannot be placed in time
        checkup.report.facts["power"] = None
        checkup.add(
            "power",
            FAIL,
            power.problem.split(":")[0],
            advice="old firmware stamps power samples 0: update the board's firmware "
            "(logic); until then no power measurement can be placed in a replay",
        )
        return
    samples = samples[samples["t"] <= window_us]
    seen_rails = sorted({int(r) for r in samples["rail"]})
    per_rail = {r: samples["watts"][samples["rail"] == r] for r in seen_rails}
    rate = min((len(v) for v in per_rail.values()), default=0) / checkup.plan.power_s
    idle = {
        (rails[r] if r < len(rails) else f"rail {r}"): float(np.mean(v))
        for r, v in per_rail.items()
    }
    checkup.report.facts["power"] = {
        "rails": list(idle),
        "idle_w": [round(w, 9) for w in idle.values()],
        "sample_hz": round(rate, 3),
    }
    beside = ", ".join(
        f"{name} {watts * 1e6:.0f} µW"
        + (f" (published {PUBLISHED_IDLE_UW[name]})" if name in PUBLISHED_IDLE_UW else "")
        for name, watts in idle.items()
    )
    seen = f"{len(seen_rails)} rails at {rate:.0f} Hz (asked {POWER_HZ:g}); idle: {beside}"
    missing = [name for i, name in enumerate(rails) if i not in per_rail]
    if missing or rate < 0.9 * POWER_HZ:
        problem = f"rails {', '.join(missing)} silent" if missing else "sampled too slowly"
        checkup.add(
            "power",
            FAIL,
            f"{seen}: {problem}",
            advice="power figures from this board are incomplete: check the power "
            "monitor's sink graph and samna version",
        )
        return
    checkup.add(
        "power",
        PASS,
        f"{seen} (published ±{PUBLISHED_OFFSET_UW} µW per rail)",
    )
