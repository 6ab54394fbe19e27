"""The checks of time: the stop watch, configuration writes, inputs held until due, and a
read reply ordered behind them."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from hil.calibration.doctor.bench import REPLY_TIMEOUT_S, NotWritten, is_reply, is_spike
from hil.calibration.doctor.checkup import THRESHOLD_HIGH, Checkup
from hil.calibration.doctor.findings import FAIL, PASS, UNKNOWN

#: sinabs sleeps this long after ``apply_configuration`` "to wait for the config to be
#: written" (``dynapcnn_network.py``): a board that takes longer breaks sinabs' own code.
CONFIG_WRITE_LIMIT_S = 1.0
HELD_US = 200_000


def stop_watch(checkup: Checkup) -> None:
    """Reads spaced over ``stop_watch_s`` of host time: their stamps must be non-zero,
    increasing, and advance one per µs of host time."""
    bench, core = checkup.bench, checkup.read_core
    config, marker = bench.config(core, threshold=THRESHOLD_HIGH)
    bench.load(config, core, marker)
    bench.start_stop_watch()
    stamps, hosts, uncertainty = [], [], 0.0
    for index in range(5):
        if index:
            bench.sleep(checkup.plan.stop_watch_s / 4)
        before = bench.clock()
        reply = bench.read(core)[1]
        after = bench.clock()
        stamps.append(int(reply.timestamp))
        hosts.append((before + after) / 2)
        uncertainty += (after - before) / 2
    bench.device_s += checkup.plan.stop_watch_s
    host_s = hosts[-1] - hosts[0]
    ratio = (stamps[-1] - stamps[0]) / (host_s * 1e6) if host_s > 0 else float("nan")
    tolerance = 0.02 + 2 * uncertainty / max(host_s, 1e-9)
    checkup.report.facts["timestamps"] = {
        "stamps_us": stamps,
        "host_s": round(host_s, 6),
        "us_per_host_us": round(ratio, 6),
    }
    seen = f"5 reads over {host_s:.3f} s of host time stamped {', '.join(map(str, stamps))} µs"
    if not any(stamps):
        checkup.add(
            "stop_watch",
            FAIL,
            f"{seen}: every timestamp is 0",
            advice="old devkit firmware stamps every event 0; update the board's firmware "
            "(logic), or no delay, latency or stall can be measured on it",
        )
    elif any(b <= a for a, b in pairwise(stamps)):
        checkup.add(
            "stop_watch",
            FAIL,
            f"{seen}: not increasing",
            advice="the stop watch was reset or wrapped meanwhile; report the board's "
            "logic version and samna version",
        )
    elif abs(ratio - 1) > tolerance:
        checkup.add(
            "stop_watch",
            FAIL,
            f"{seen}: {ratio:.4g} stop-watch units per host µs (µs would be 1 ± {tolerance:.2g})",
            advice="the stop watch does not count µs; every delay the harness measures "
            "would be off by this factor: check the board's FPGA clock",
        )
    else:
        checkup.timestamps_ok = True
        checkup.add(
            "stop_watch",
            PASS,
            f"{seen}: non-zero, increasing, {ratio:.4f} µs per host µs",
        )
    checkup.report.facts["timestamps"]["healthy"] = checkup.timestamps_ok


def config_write(checkup: Checkup) -> None:
    """How long ``apply_configuration`` takes to take effect: from the call to the
    first read that sees the new configuration's marker."""
    bench, core = checkup.bench, checkup.read_core
    sizes = {"one neuron": {}}
    if checkup.plan.large_config:  # 64 maps of 16x16 weights: a core's whole kernel memory
        sizes["a full core"] = {"channels": 64, "kernel": 16}
    times = {}
    try:
        for name, shape in sizes.items():
            base, base_marker = bench.config(core, threshold=THRESHOLD_HIGH)
            bench.load(base, core, base_marker)
            config, marker = bench.config(core, threshold=THRESHOLD_HIGH, **shape)
            times[name] = bench.load(config, core, marker)
    except NotWritten as exc:
        checkup.add(
            "config_write",
            FAIL,
            str(exc),
            advice="the board does not take configurations: check the USB link and reset the board",
        )
        return
    slowest = checkup.write_s = max(times.values())
    checkup.report.facts["config_write_s"] = {k: round(v, 6) for k, v in times.items()}
    seen = ", ".join(f"{name} {seconds * 1e3:.3g} ms" for name, seconds in times.items())
    if slowest > CONFIG_WRITE_LIMIT_S:
        checkup.add(
            "config_write",
            FAIL,
            f"a configuration takes effect after {seen} (limit {CONFIG_WRITE_LIMIT_S:g} s)",
            advice="sinabs waits 1 s after apply_configuration and would meet a "
            "half-written chip; check the USB link (a hub, USB 2), the board's firmware, "
            "and give the harness's barrier a timeout above this",
        )
        return
    checkup.add("config_write", PASS, f"a configuration takes effect after {seen}")


def input_held(checkup: Checkup) -> None:
    """Inputs stamped ``HELD_US`` ahead come out stamped no earlier than that."""
    if checkup.cannot("input_held", judge_time=True):
        return
    bench, core = checkup.bench, checkup.firing_core
    config, marker = bench.config(core, size=4)
    bench.load(config, core, marker)
    started = bench.start_stop_watch()
    bench.write([bench.spike(core, HELD_US, x=x) for x in range(4)])
    events = bench.collect(
        lambda got: sum(map(is_spike, got)) >= 4, HELD_US / 1e6 + REPLY_TIMEOUT_S
    )
    arrived_s = bench.clock() - started
    bench.device_s += HELD_US / 1e6
    stamps = [int(e.timestamp) for e in events if is_spike(e)]
    if not stamps:
        checkup.add(
            "input_held",
            UNKNOWN,
            f"no output came for 4 inputs stamped {HELD_US:,} µs ahead on core {core}",
        )
        return
    latency = float(np.median(np.array(stamps) - HELD_US))
    checkup.report.facts["latency_us"] = round(latency, 3)
    seen = (
        f"4 inputs stamped {HELD_US:,} µs on core {core}: outputs stamped "
        f"{min(stamps):,}–{max(stamps):,} µs, at the host after {arrived_s:.3f} s"
    )
    if min(stamps) < HELD_US:
        checkup.add(
            "input_held",
            FAIL,
            f"{seen}: released before they were due",
            advice="the board does not hold inputs until their time: replays run as "
            "fast as the host writes and every delay is wrong; check the samna version",
        )
        return
    checkup.add("input_held", PASS, f"{seen}: held until due (latency {latency:.3g} µs)")


def read_order(checkup: Checkup) -> None:
    """A read written after time-held inputs is answered after their outputs."""
    if checkup.cannot("read_order", judge_time=False):
        return
    bench, core = checkup.bench, checkup.firing_core
    config, marker = bench.config(core)
    bench.load(config, core, marker)
    times = [10_000 * (i + 1) for i in range(5)]
    started = bench.start_stop_watch()
    bench.write([bench.spike(core, t) for t in times] + [bench.read_event(core)])
    events = bench.collect(lambda got: any(map(is_reply, got)), REPLY_TIMEOUT_S + 0.05)
    events += bench.drain(times[-1], started)
    bench.device_s += times[-1] / 1e6
    reply_at = next((i for i, e in enumerate(events) if is_reply(e)), None)
    if reply_at is None:
        checkup.add("read_order", UNKNOWN, f"no reply to a read on core {core}")
        return
    before = [int(e.timestamp) for e in events[:reply_at] if is_spike(e)]
    after = sum(map(is_spike, events[reply_at:]))
    stamp = int(events[reply_at].timestamp)
    seen = (
        f"5 inputs stamped up to {times[-1]:,} µs, then a read: {len(before)} outputs "
        f"before its reply, {after} after"
    )
    if not before and not after:
        checkup.add("read_order", UNKNOWN, f"{seen}: no output to order the reply against")
        return
    if after:
        checkup.add(
            "read_order",
            FAIL,
            f"{seen}: the reply overtook the inputs",
            advice="a read reply is no barrier behind time-held inputs: the harness's "
            "quiet detection would end replays early; report it with the samna version",
        )
        return
    stamp_text = f", stamped {stamp:,} µs" if checkup.timestamps_ok else ""
    if before and checkup.timestamps_ok:
        stamp_text += f" (last output {max(before):,} µs)"
    checkup.add("read_order", PASS, f"{seen}{stamp_text}: the reply waits for the inputs")
