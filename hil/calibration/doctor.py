"""``speck-hil doctor``: a self-test of one board, measuring what no document says about it.

A lab's first hour with a devkit meets questions nobody has published answers to (facts.md
§8): are the timestamps real, are inputs held until they are due, is a read reply ordered
behind them, how long does ``apply_configuration`` take to take effect, does every core
answer, does a reset leave zero states, does the slow clock leak, which power rails report.
Each check here measures one of them through samna's own API (real or emulated) and ends
``pass``, ``fail`` or ``unknown`` with what was seen and, for a fail, what to do.

Every configuration the doctor loads is one neuron per core (or a few), built field by field
with the board's own samna configuration type; its neuron 0 starts from a value no other
configuration of the doctor uses, so a read that returns it proves the configuration is the
one on the chip (how ``apply_configuration``'s write time is measured, and how every check
waits for its configuration). Checks that need a firing core use the first one the cores
check found healthy; checks that judge timestamps say ``unknown`` when the stop watch failed,
so one fault is named by one check.

Measurement windows (the stop watch against the host clock, the leak, idle power) are host
time by nature: they wait through ``sleep``, which tests replace with the emulated devkit's
fake wall clock. Every other wait is bounded by the board's own work. Nothing here knows
about pytest or the command line; ``on_check`` reports progress.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from hil.backends.base import DeviceError, DeviceInfo
from hil.backends.samna_backend import SamnaDevice
from hil.calibration.doctor_bench import (
    REPLY_TIMEOUT_S,
    WRITE_TIMEOUT_S,
    Bench,
    NotWritten,
    is_reply,
    is_spike,
    neuron_address,
)

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
#: The checks, in the order the table shows them.
CHECKS = (
    "identity",
    "stop_watch",
    "input_held",
    "read_order",
    "config_write",
    "cores",
    "reset",
    "leak",
    "power",
    "unplug",
)
#: Stochastic cores (sinabs #186: cores 0-1 run asynchronously; sinabs' own hardware tests
#: skip them): their output count may stray from the input count by this fraction.
STOCHASTIC_CORES = (0, 1)
STOCHASTIC_TOLERANCE = 0.10
#: Cores tried, in order, for the checks that need one that fires: deterministic ones first.
PREFERRED_CORES = (2, 3, 4, 5, 6, 7, 8, 0, 1)
#: sinabs sleeps this long after ``apply_configuration`` "to wait for the config to be
#: written" (``dynapcnn_network.py``): a board that takes longer breaks sinabs' own code.
CONFIG_WRITE_LIMIT_S = 1.0
#: The published idle power of a Speck 2f devkit per rail (sinabs' power_monitoring notebook),
#: µW, and the datasheet's offset per rail.
PUBLISHED_IDLE_UW = {"io": 62, "ram": 52, "logic": 367, "pixel_digital": 79, "pixel_analog": 611}
PUBLISHED_OFFSET_UW = 50
HELD_US = 200_000
POWER_HZ = 100.0
THRESHOLD_HIGH = 32767  # a neuron that never fires: only reads are judged


@dataclass(frozen=True)
class Plan:
    """How long each measurement runs: the full self-test or ``--quick``."""

    stop_watch_s: float = 1.0
    core_inputs: int = 500
    core_spacing_us: int = 200
    leak_s: float = 0.2
    power_s: float = 0.5
    large_config: bool = True


FULL = Plan()
QUICK = Plan(
    stop_watch_s=0.25,
    core_inputs=50,
    core_spacing_us=100,
    leak_s=0.1,
    power_s=0.2,
    large_config=False,
)


@dataclass(frozen=True)
class Finding:
    """One check's outcome: what was seen and, for a fail, what to do."""

    check: str
    outcome: str
    detail: str
    core: int | None = None
    advice: str = ""

    @property
    def text(self) -> str:
        return f"{self.detail}; to do: {self.advice}" if self.advice else self.detail

    def as_dict(self) -> dict:
        entry: dict[str, Any] = {"check": self.check, "outcome": self.outcome}
        entry["detail"] = self.text
        if self.core is not None:
            entry["core"] = self.core
        return entry


@dataclass
class DoctorReport:
    """Every finding of one doctor run, and the figures it measured (board facts)."""

    device: DeviceInfo
    date: str
    quick: bool
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    device_s: float = 0.0
    wall_s: float = 0.0

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures

    def first_failure(self) -> str:
        failure = self.failures[0]
        where = f" (core {failure.core})" if failure.core is not None else ""
        return f"doctor check {failure.check}{where} failed: {failure.detail}"


class DoctorError(ValueError):
    """The doctor cannot run on this device (not a samna devkit)."""


def run_doctor(
    device: Any,
    quick: bool = False,
    on_check: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DoctorReport:
    """Run every check on an open samna ``device``. Raises ``DoctorError`` for a device the
    doctor cannot test, ``DeviceError`` when the board fails while being tested."""
    if not isinstance(device, SamnaDevice):
        raise DoctorError(
            f"{device.info}: doctor tests a devkit through samna (a real one, or sim); "
            f"{device.info.kind} has no board to test"
        )
    started = time.perf_counter()
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report = DoctorReport(device.info, date, quick)
    bench = Bench(device, clock, sleep)
    doctor = _Doctor(bench, QUICK if quick else FULL, report, on_check or (lambda _: None))
    try:
        doctor.run()
    except DeviceError:
        raise
    except Exception as exc:  # samna raises RuntimeError (and others) for a failing board
        raise DeviceError(str(device.info), f"failed during doctor: {exc}") from exc
    finally:
        report.findings.sort(key=lambda f: (CHECKS.index(f.check), f.core or 0))
        report.device_s = round(bench.device_s, 3)
        report.wall_s = round(time.perf_counter() - started, 3)
    return report


class _Doctor:
    def __init__(self, bench: Bench, plan: Plan, report: DoctorReport, on_check):
        self.bench, self.plan, self.report, self.on_check = bench, plan, report, on_check
        self.timestamps_ok = False
        self.firing_core: int | None = None
        self.write_s = WRITE_TIMEOUT_S  # until config_write measures it
        #: The core of the checks that only read neuron states (a dead core reads too).
        self.read_core = min(PREFERRED_CORES[0], bench.n_cores - 1)

    def add(self, check: str, outcome: str, detail: str, core=None, advice: str = "") -> None:
        self.report.findings.append(Finding(check, outcome, detail, core, advice))

    def run(self) -> None:
        for check in (
            self.identity,
            self.stop_watch,
            self.config_write,
            self.cores,
            self.input_held,
            self.read_order,
            self.reset,
            self.leak,
            self.power,
            self.unplug,
        ):
            self.on_check(check.__name__)
            check()

    # -- the checks -----------------------------------------------------------------------

    def identity(self) -> None:
        info, raw = self.bench.device.info, self.bench.board.device_info
        usb = f"USB {getattr(raw, 'usb_bus_number', '?')}:{getattr(raw, 'usb_device_address', '?')}"
        logic = info.logic_version if info.logic_version is not None else "not reported"
        facts = {
            "device": str(info),
            "device_type": info.device_type,
            "serial": info.serial,
            "usb": usb.removeprefix("USB "),
            "samna_version": info.samna_version,
            "logic_version": info.logic_version,
        }
        self.report.facts["identity"] = facts
        seen = f"samna {info.samna_version}, logic version {logic}, {usb}"
        if info.serial:
            self.add("identity", PASS, f"{info.device_type} serial {info.serial}, {seen}")
            return
        self.add(
            "identity",
            PASS,
            f"{info.device_type} without a serial, {seen}: known by its USB address, which "
            "changes when it is plugged in again",
        )

    def stop_watch(self) -> None:
        """Reads spaced over ``stop_watch_s`` of host time: their stamps must be non-zero,
        increasing, and advance one per µs of host time."""
        bench, core = self.bench, self.read_core
        config, marker = bench.config(core, threshold=THRESHOLD_HIGH)
        bench.load(config, core, marker)
        bench.start_stop_watch()
        stamps, hosts, uncertainty = [], [], 0.0
        for index in range(5):
            if index:
                bench.sleep(self.plan.stop_watch_s / 4)
            before = bench.clock()
            reply = bench.read(core)[1]
            after = bench.clock()
            stamps.append(int(reply.timestamp))
            hosts.append((before + after) / 2)
            uncertainty += (after - before) / 2
        bench.device_s += self.plan.stop_watch_s
        host_s = hosts[-1] - hosts[0]
        ratio = (stamps[-1] - stamps[0]) / (host_s * 1e6) if host_s > 0 else float("nan")
        tolerance = 0.02 + 2 * uncertainty / max(host_s, 1e-9)
        self.report.facts["timestamps"] = {
            "stamps_us": stamps,
            "host_s": round(host_s, 6),
            "us_per_host_us": round(ratio, 6),
        }
        seen = f"5 reads over {host_s:.3f} s of host time stamped {', '.join(map(str, stamps))} µs"
        if not any(stamps):
            self.add(
                "stop_watch",
                FAIL,
                f"{seen}: every timestamp is 0",
                advice="old devkit firmware stamps every event 0; update the board's firmware "
                "(logic), or no delay, latency or stall can be measured on it",
            )
        elif any(b <= a for a, b in pairwise(stamps)):
            self.add(
                "stop_watch",
                FAIL,
                f"{seen}: not increasing",
                advice="the stop watch was reset or wrapped meanwhile; report the board's "
                "logic version and samna version",
            )
        elif abs(ratio - 1) > tolerance:
            self.add(
                "stop_watch",
                FAIL,
                f"{seen}: {ratio:.4g} stop-watch units per host µs (µs would be 1 ± "
                f"{tolerance:.2g})",
                advice="the stop watch does not count µs; every delay the harness measures "
                "would be off by this factor: check the board's FPGA clock",
            )
        else:
            self.timestamps_ok = True
            self.add(
                "stop_watch",
                PASS,
                f"{seen}: non-zero, increasing, {ratio:.4f} µs per host µs",
            )
        self.report.facts["timestamps"]["healthy"] = self.timestamps_ok

    def config_write(self) -> None:
        """How long ``apply_configuration`` takes to take effect: from the call to the
        first read that sees the new configuration's marker."""
        bench, core = self.bench, self.read_core
        sizes = {"one neuron": {}}
        if self.plan.large_config:  # 64 maps of 16x16 weights: a core's whole kernel memory
            sizes["a full core"] = {"channels": 64, "kernel": 16}
        times = {}
        try:
            for name, shape in sizes.items():
                base, base_marker = bench.config(core, threshold=THRESHOLD_HIGH)
                bench.load(base, core, base_marker)
                config, marker = bench.config(core, threshold=THRESHOLD_HIGH, **shape)
                times[name] = bench.load(config, core, marker)
        except NotWritten as exc:
            self.add(
                "config_write",
                FAIL,
                str(exc),
                advice="the board does not take configurations: check the USB link and "
                "reset the board",
            )
            return
        slowest = self.write_s = max(times.values())
        self.report.facts["config_write_s"] = {k: round(v, 6) for k, v in times.items()}
        seen = ", ".join(f"{name} {seconds * 1e3:.3g} ms" for name, seconds in times.items())
        if slowest > CONFIG_WRITE_LIMIT_S:
            self.add(
                "config_write",
                FAIL,
                f"a configuration takes effect after {seen} (limit {CONFIG_WRITE_LIMIT_S:g} s)",
                advice="sinabs waits 1 s after apply_configuration and would meet a "
                "half-written chip; check the USB link (a hub, USB 2), the board's firmware, "
                "and give the harness's barrier a timeout above this",
            )
            return
        self.add("config_write", PASS, f"a configuration takes effect after {seen}")

    def cores(self) -> None:
        """Per core, one neuron that fires once per input: N inputs give exactly N
        outputs (the stochastic cores 0-1 within ``STOCHASTIC_TOLERANCE``)."""
        bench, plan = self.bench, self.plan
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
                self.add(
                    "cores",
                    FAIL,
                    f"core {core} never fired: {seen}",
                    core,
                    advice=f"a dead core: keep networks off core {core} (layer2core_map) and "
                    "report the board to SynSense",
                )
            elif abs(own - n) > allowed or stray:
                self.add(
                    "cores",
                    FAIL,
                    f"core {core}: {seen}",
                    core,
                    advice="lost or extra spikes: run doctor again; if it stays, keep networks "
                    f"off core {core}",
                )
            else:
                healthy.append(core)
                self.add("cores", PASS, f"core {core}: {seen}", core)
        self.report.facts["cores"] = {
            "inputs": n,
            "outputs": {str(c): counts[c] for c in counts},
            "healthy": healthy,
            "stochastic_tolerance": STOCHASTIC_TOLERANCE,
        }
        self.firing_core = next((c for c in PREFERRED_CORES if c in healthy), None)

    def input_held(self) -> None:
        """Inputs stamped ``HELD_US`` ahead come out stamped no earlier than that."""
        if self._cannot("input_held", judge_time=True):
            return
        bench, core = self.bench, self.firing_core
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
            self.add(
                "input_held",
                UNKNOWN,
                f"no output came for 4 inputs stamped {HELD_US:,} µs ahead on core {core}",
            )
            return
        latency = float(np.median(np.array(stamps) - HELD_US))
        self.report.facts["latency_us"] = round(latency, 3)
        seen = (
            f"4 inputs stamped {HELD_US:,} µs on core {core}: outputs stamped "
            f"{min(stamps):,}–{max(stamps):,} µs, at the host after {arrived_s:.3f} s"
        )
        if min(stamps) < HELD_US:
            self.add(
                "input_held",
                FAIL,
                f"{seen}: released before they were due",
                advice="the board does not hold inputs until their time: replays run as "
                "fast as the host writes and every delay is wrong; check the samna version",
            )
            return
        self.add("input_held", PASS, f"{seen}: held until due (latency {latency:.3g} µs)")

    def read_order(self) -> None:
        """A read written after time-held inputs is answered after their outputs."""
        if self._cannot("read_order", judge_time=False):
            return
        bench, core = self.bench, self.firing_core
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
            self.add("read_order", UNKNOWN, f"no reply to a read on core {core}")
            return
        before = [int(e.timestamp) for e in events[:reply_at] if is_spike(e)]
        after = sum(map(is_spike, events[reply_at:]))
        stamp = int(events[reply_at].timestamp)
        seen = (
            f"5 inputs stamped up to {times[-1]:,} µs, then a read: {len(before)} outputs "
            f"before its reply, {after} after"
        )
        if not before and not after:
            self.add("read_order", UNKNOWN, f"{seen}: no output to order the reply against")
            return
        if after:
            self.add(
                "read_order",
                FAIL,
                f"{seen}: the reply overtook the inputs",
                advice="a read reply is no barrier behind time-held inputs: the harness's "
                "quiet detection would end replays early; report it with the samna version",
            )
            return
        stamp_text = f", stamped {stamp:,} µs" if self.timestamps_ok else ""
        if before and self.timestamps_ok:
            stamp_text += f" (last output {max(before):,} µs)"
        self.add("read_order", PASS, f"{seen}{stamp_text}: the reply waits for the inputs")

    def reset(self) -> None:
        """Re-applying a configuration with zero initial states leaves every neuron at 0."""
        bench, core = self.bench, self.read_core
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
        states = self._states_after_reset(core, len(pixels))
        nonzero = {a: s for a, s in enumerate(states) if s}
        seen = (
            f"{len(pixels)} neurons of core {core} charged to {charged}, then the configuration "
            f"applied again (zero initial states)"
        )
        if charged == 0:
            self.add("reset", UNKNOWN, f"{seen}: the inputs did not charge the neurons")
        elif nonzero:
            shown = ", ".join(f"{a}: {s}" for a, s in list(nonzero.items())[:4])
            self.add(
                "reset",
                FAIL,
                f"{seen}: {len(nonzero)} neurons not zero ({shown})",
                advice="a reset does not zero the states (sinabs #148): chip and simulation "
                "start from different states; write zero states explicitly before each replay",
            )
        else:
            self.add("reset", PASS, f"{seen}: every neuron reads 0")

    def _states_after_reset(self, core: int, neurons: int) -> list[int]:
        """Every neuron's state once the re-applied configuration took effect (neuron 0
        reads 0), or as they are after three times the measured write time."""
        give_up = time.monotonic() + max(3 * self.write_s, 0.05)
        while True:
            states = [self.bench.read(core, neuron_address(a, 4))[0] for a in range(neurons)]
            if not any(states) or time.monotonic() > give_up:
                return states

    def leak(self) -> None:
        """With leak on and bias 1, the slow clock adds one per tick."""
        bench, core = self.bench, self.read_core
        hz = 1000
        config, marker = bench.config(core, threshold=THRESHOLD_HIGH, leak=True)
        bench.load(config, core, marker, leaks=True)
        io = bench.board.handle.get_io_module()
        io.set_slow_clk(True)
        io.set_slow_clk_rate(hz)
        try:
            bench.start_stop_watch()
            before, at_before = bench.read(core)[0], bench.clock()
            bench.sleep(self.plan.leak_s)
            after, at_after = bench.read(core)[0], bench.clock()
        finally:
            io.set_slow_clk(False)
        bench.device_s += self.plan.leak_s
        ticks, host_s = after - before, at_after - at_before
        expected = hz * host_s
        self.report.facts["leak_ticks_per_s"] = round(ticks / host_s, 3) if host_s else None
        seen = (
            f"bias 1 at a {hz} Hz slow clock: neuron went {before} -> {after} in {host_s:.3f} s "
            f"({ticks} ticks, {expected:.0f} expected)"
        )
        if ticks <= 0:
            self.add(
                "leak",
                FAIL,
                f"{seen}: no leak",
                advice="the slow clock does not tick: check io.set_slow_clk and the board's "
                "firmware; leaky networks will not leak",
            )
        elif not 0.5 <= ticks / expected <= 2.0:
            self.add(
                "leak",
                FAIL,
                f"{seen}: the slow clock runs at {ticks / host_s:.3g} Hz",
                advice="set_slow_clk_rate does not give the rate asked for: measure it and "
                "set slow_clk_hz in the profile",
            )
        else:
            self.add("leak", PASS, f"{seen}: the slow clock ticks a leak")

    def power(self) -> None:
        """The power monitor: every rail the profile names reports, at the rate asked for;
        idle power per rail beside the published devkit figures."""
        bench, power = self.bench, self.bench.board.power
        profile = bench.device.profile
        rails = list(profile.power.rails) if profile.power is not None else []
        if power is None:
            self.report.facts["power"] = None
            self.add(
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
        window_us = round(self.plan.power_s * 1e6)
        started = bench.start_stop_watch()
        power.clear()
        # one input at the window's end, held until due: on the emulated devkit, chip time
        # (and so the monitor's samples) moves with the events; a real board just idles
        bench.write([bench.spike(core, window_us)])
        bench.drain(window_us, started)
        bench.sleep(1 / POWER_HZ)  # the last sample period's sample
        bench.read(core)
        bench.device_s += self.plan.power_s
        samples = power.samples()
        if power.problem:  # every sample stamped 0: they cannot be placed in time
            self.report.facts["power"] = None
            self.add(
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
        rate = min((len(v) for v in per_rail.values()), default=0) / self.plan.power_s
        idle = {
            (rails[r] if r < len(rails) else f"rail {r}"): float(np.mean(v))
            for r, v in per_rail.items()
        }
        self.report.facts["power"] = {
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
            self.add(
                "power",
                FAIL,
                f"{seen}: {problem}",
                advice="power figures from this board are incomplete: check the power "
                "monitor's sink graph and samna version",
            )
            return
        self.add(
            "power",
            PASS,
            f"{seen} (published ±{PUBLISHED_OFFSET_UW} µW per rail)",
        )

    def unplug(self) -> None:
        self.add(
            "unplug",
            UNKNOWN,
            "not tested (it needs a hand on the cable): start `speck-hil replay --device "
            "THIS_BOARD ...` with a long recording, pull the USB cable, and check it ends "
            "with a device error within a few seconds and `speck-hil devices` no longer "
            "lists the board",
        )

    def _cannot(self, check: str, judge_time: bool) -> bool:
        """Say unknown, and True, when ``check`` lacks what it rests on."""
        if self.firing_core is None:
            self.add(check, UNKNOWN, "no core fired (see cores): nothing to judge")
            return True
        if judge_time and not self.timestamps_ok:
            self.add(check, UNKNOWN, "timestamps are not usable (see stop_watch)")
            return True
        return False


def health_check(device: Any, sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Doctor's quick checks on an open device, for a session that starts: why the board
    is unfit (the first failed check, or the device error), or None when it passed."""
    try:
        report = run_doctor(device, quick=True, sleep=sleep)
    except DeviceError as exc:
        return f"doctor's quick checks: device error: {exc}"
    return None if report.passed else report.first_failure()
