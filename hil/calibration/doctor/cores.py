"""The checks of the cores: every core fires exactly, a reset zeroes the states, the slow
clock leaks."""

from __future__ import annotations

import time

from hil.calibration.doctor.bench import is_spike, neuron_address
from hil.calibration.doctor.checkup import PREFERRED_CORES, THRESHOLD_HIGH, Checkup
from hil.calibration.doctor.findings import FAIL, PASS, UNKNOWN

#: Stochastic cores (sinabs #186: cores 0-1 run asynchronously; sinabs' own hardware tests
#: skip them): their output count may stray from the input count by this fraction.
STOCHASTIC_CORES = (0, 1)
STOCHASTIC_TOLERANCE = 0.10


def cores(checkup: Checkup) -> None:
    """Per core, one neuron that fires once per input: N inputs give exactly N
    outputs (the stochastic cores 0-1 within ``STOCHASTIC_TOLERANCE``)."""
    bench, plan = checkup.bench, checkup.plan
    healthy, counts = [], {}
    n = plan.core_inputs
    for core in range(bench.n_cores):
        config, marker = bench.config(core)
        bench.load(config, core, marker)
        started = bench.start_stop_watch()
        times = [(i + 1) * plan.core_spacing_us for i in range(n)]
        bench.write([bench.spike(core, t) for t in times])
        events = bench.read(core)[2]  # the reply: every input before it was served
        events += bench.drain(times[-1], started)
        bench.device_s += times[-1] / 1e6
        spikes = [e for e in events if is_spike(e)]
        own = sum(1 for e in spikes if int(e.layer) == core)
        counts[core] = own
        stray = len(spikes) - own
        stochastic = core in STOCHASTIC_CORES
        allowed = round(n * STOCHASTIC_TOLERANCE) if stochastic else 0
        how = (
            f"within ±{STOCHASTIC_TOLERANCE:.0%} (a stochastic core, sinabs #186)"
            if stochastic
            else "exactly"
        )
        seen = f"{own} outputs for {n} inputs (expected {n} {how})"
        if stray:
            seen += f", and {stray} from other cores"
        if own == 0:
            checkup.add(
                "cores",
                FAIL,
                f"core {core} never fired: {seen}",
                core,
                advice=f"a dead core: keep networks off core {core} (layer2core_map) and "
                "report the board to SynSense",
            )
        elif abs(own - n) > allowed or stray:
            checkup.add(
                "cores",
                FAIL,
                f"core {core}: {seen}",
                core,
                advice="lost or extra spikes: run doctor again; if it stays, keep networks "
                f"off core {core}",
            )
        else:
            healthy.append(core)
            checkup.add("cores", PASS, f"core {core}: {seen}", core)
    checkup.report.facts["cores"] = {
        "inputs": n,
        "outputs": {str(c): counts[c] for c in counts},
        "healthy": healthy,
        "stochastic_tolerance": STOCHASTIC_TOLERANCE,
    }
    checkup.firing_core = next((c for c in PREFERRED_CORES if c in healthy), None)


def reset(checkup: Checkup) -> None:
    """Re-applying a configuration with zero initial states leaves every neuron at 0."""
    bench, core = checkup.bench, checkup.read_core
    size = 4
    other, marker = bench.config(core, threshold=THRESHOLD_HIGH)
    bench.load(other, core, marker)  # neuron 0 reads non-zero until the next one is on
    config, _ = bench.config(core, threshold=THRESHOLD_HIGH, size=size, marker=0)
    bench.load(config, core, 0)
    bench.start_stop_watch()
    pixels = [(x, y) for y in range(size) for x in range(size)]
    bench.write([bench.spike(core, 1 + i, x, y) for i, (x, y) in enumerate(pixels * 3)])
    charged = bench.read(core)[0]
    bench.board.model.apply_configuration(config)
    states = _states_after_reset(checkup, core, len(pixels))
    nonzero = {a: s for a, s in enumerate(states) if s}
    seen = (
        f"{len(pixels)} neurons of core {core} charged to {charged}, then the configuration "
        f"applied again (zero initial states)"
    )
    if charged == 0:
        checkup.add("reset", UNKNOWN, f"{seen}: the inputs did not charge the neurons")
    elif nonzero:
        shown = ", ".join(f"{a}: {s}" for a, s in list(nonzero.items())[:4])
        checkup.add(
            "reset",
            FAIL,
            f"{seen}: {len(nonzero)} neurons not zero ({shown})",
            advice="a reset does not zero the states (sinabs #148): chip and simulation "
            "start from different states; write zero states explicitly before each replay",
        )
    else:
        checkup.add("reset", PASS, f"{seen}: every neuron reads 0")


def _states_after_reset(checkup: Checkup, core: int, neurons: int) -> list[int]:
    """Every neuron's state once the re-applied configuration took effect (neuron 0
    reads 0), or as they are after three times the measured write time."""
    give_up = time.monotonic() + max(3 * checkup.write_s, 0.05)
    while True:
        states = [checkup.bench.read(core, neuron_address(a, 4))[0] for a in range(neurons)]
        if not any(states) or time.monotonic() > give_up:
            return states


def leak(checkup: Checkup) -> None:
    """With leak on and bias 1, the slow clock adds one per tick."""
    bench, core = checkup.bench, checkup.read_core
    hz = 1000
    config, marker = bench.config(core, threshold=THRESHOLD_HIGH, leak=True)
    bench.load(config, core, marker, leaks=True)
    io = bench.board.handle.get_io_module()
    io.set_slow_clk(True)
    io.set_slow_clk_rate(hz)
    try:
        bench.start_stop_watch()
        before, at_before = bench.read(core)[0], bench.clock()
        bench.sleep(checkup.plan.leak_s)
        after, at_after = bench.read(core)[0], bench.clock()
    finally:
        io.set_slow_clk(False)
    bench.device_s += checkup.plan.leak_s
    ticks, host_s = after - before, at_after - at_before
    expected = hz * host_s
    checkup.report.facts["leak_ticks_per_s"] = round(ticks / host_s, 3) if host_s else None
    seen = (
        f"bias 1 at a {hz} Hz slow clock: neuron went {before} -> {after} in {host_s:.3f} s "
        f"({ticks} ticks, {expected:.0f} expected)"
    )
    if ticks <= 0:
        checkup.add(
            "leak",
            FAIL,
            f"{seen}: no leak",
            advice="the slow clock does not tick: check io.set_slow_clk and the board's "
            "firmware; leaky networks will not leak",
        )
    elif not 0.5 <= ticks / expected <= 2.0:
        checkup.add(
            "leak",
            FAIL,
            f"{seen}: the slow clock runs at {ticks / host_s:.3g} Hz",
            advice="set_slow_clk_rate does not give the rate asked for: measure it and "
            "set slow_clk_hz in the profile",
        )
    else:
        checkup.add("leak", PASS, f"{seen}: the slow clock ticks a leak")
