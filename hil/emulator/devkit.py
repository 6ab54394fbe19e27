"""The emulated devkit: a ``Speck`` behind the board-side parts of samna's device API.

A devkit holds the chip model (``get_model``), the FPGA's stop watch and io module, and the
event plumbing. Events written to the model run through the emulator at once, at their
timestamps (stop-watch µs); the devkit never sleeps through emulated time. An input whose
time has already passed is released at once, as on the real board.

Chip time also passes with wall time while the stop watch or the slow clock runs
(``wall_time``): before it reads or writes a neuron, changes the slow-clock rate or stops its
last clock, the chip is brought to the time the wall clock implies, so the slow clock's leak
ticks happen while a test sleeps. Inputs never wait for the wall clock and are never made late
by the host (it counts as infinitely fast): a replay runs ahead of wall time at its own
timestamps, and wall time only moves the chip on once it has caught up with them.

Emulator choices a lab can check against a chip:
  - ``ReadNeuronValue.address`` / ``WriteNeuronValue.address`` follow sinabs'
    ``calculate_neuron_address``: feature in the low bits, then x, then y. A read is answered
    after every event written before it, with a ``NeuronValue`` stamped with the chip time.
  - ``reset_board_soft`` restores the default (empty) configuration; applying a
    configuration sets neuron states to its ``neurons_initial_value`` (which sinabs copies
    from the network's state at ``make_config``, so they need not be zero) and empties queues.
  - ``apply_configuration`` returns at once; the configuration takes effect once written
    (``config_write``), events written meanwhile meet the old one (none: they vanish), and a
    read is answered only after the write. Kindness kept: a read written during the write
    holds the host's ``write`` until the write is done (samna's returns at once and the
    reply comes later) - the host sees the reply at the same time, without a thread.
  - With ``readout.enable``, a ``ReadoutValue`` every slow-clock cycle; with the DVS layer's
    ``pass_sensor_events``, every sensor event as a ``DvsEvent``: the sink carries more than
    spikes and replies, as a real board's does.

What the board pretends its chip is (budgets, latency, noise) is its own truth, read from
``HIL_SIM_PROFILE`` when it is opened (see ``truth``), never the harness's ``--profile``.
The chip's noise stream is seeded from the profile's ``[noise] seed`` and the number of
configurations applied so far, so one session's replays differ from each other (a noisy chip
does not repeat itself) and the same session with the same seed repeats exactly.

Fault injection (``FaultPlan``, seeded) makes the harness's failure handling testable: input
events dropped with a probability, a device that disconnects after N input events (every
call then raises ``RuntimeError``, as samna does for a vanished device), or one that stops
answering after N input events (it takes writes and never produces anything again).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from itertools import starmap
from typing import Any

import numpy as np

from hil.chip.profile import ChipProfile
from hil.emulator.config_write import PendingWrite, write_time_s
from hil.emulator.program import DVS_LAYER
from hil.emulator.samna import events as samna_events
from hil.emulator.samna.nodes import Batch, EventNode, spike_array
from hil.emulator.samna.power import PowerMonitor
from hil.emulator.speck import Speck
from hil.emulator.truth import emulated_profile
from hil.emulator.wall_time import WallTime
from hil.events import SPIKE_DTYPE, empty_spikes


@dataclass(frozen=True)
class FaultPlan:
    drop_probability: float = 0.0
    disconnect_after_events: int | None = None
    unresponsive_after_events: int | None = None
    seed: int = 0


class StopWatch:
    """The devkit's µs clock: input timestamps and output timestamps are read on it."""

    def __init__(self, devkit: EmulatedDevkit) -> None:
        self._devkit = devkit
        self.enabled = False
        self.running = False

    def set_enable_value(self, enable: bool) -> None:
        self._devkit.check_connected()
        self.enabled = bool(enable)

    def start(self) -> None:
        self._devkit.check_connected()
        self.running = True
        self._devkit.model.clock_runs("stop watch", True)

    def stop(self) -> None:
        self.running = False
        self._devkit.model.clock_runs("stop watch", False)

    def reset(self) -> None:
        """Time starts again from zero; the chip's neuron states are untouched."""
        self._devkit.check_connected()
        self._devkit.model.restart_clock()


class IoModule:
    def __init__(self, devkit: EmulatedDevkit) -> None:
        self._devkit = devkit
        self.slow_clk_enabled = False
        self.slow_clk_hz: float | None = None

    def set_slow_clk(self, enable: bool) -> None:
        self._devkit.check_connected()
        self.slow_clk_enabled = bool(enable)
        self._devkit.model.clock_runs("slow clock", self.slow_clk_enabled)

    def set_slow_clk_rate(self, hz: float) -> None:
        self._devkit.check_connected()
        self.slow_clk_hz = float(hz)
        self._devkit.model.set_slow_clk_rate(self.slow_clk_hz)


class ChipModel:
    """``handle.get_model()``: the chip's configuration and its event ports."""

    def __init__(self, devkit: EmulatedDevkit, config_type: type) -> None:
        self._devkit = devkit
        self._config_type = config_type
        self._configuration = config_type()
        self._speck: Speck | None = None
        self._pending: PendingWrite | None = None
        self._readout = False
        self._next_readout_us = 0.0
        self._offset_us = 0.0
        self._slow_clk_hz: float | None = None
        self._running_clocks: set[str] = set()
        self._wall = WallTime()
        self._input = _ChipInput(self)
        self._output = EventNode()

    def apply_configuration(self, configuration: Any) -> None:
        """Validate a configuration (ValueError naming what the chip refuses) and start
        writing it: it takes effect once written (``config_write``), as on a real board."""
        self._devkit.check_connected()
        speck = Speck(configuration, self._devkit.profile, seed=self._devkit.next_noise_seed())
        self._configuration = copy.deepcopy(configuration)
        readout = bool(configuration.readout.enable) if hasattr(configuration, "readout") else False
        seconds = write_time_s(speck.program, self._devkit.profile.devkit)
        self._pending = PendingWrite.started(speck, readout, seconds)
        self._settle()

    def _settle(self, wait: bool = False) -> bool:
        """The configuration being written takes effect once it is written (``wait``: wait
        for that, as a read's reply does); whether it took effect now."""
        pending = self._pending
        if pending is None:
            return False
        if wait:
            pending.wait()
        elif not pending.written:
            return False
        self._pending = None
        speck = pending.chip
        if self._slow_clk_hz is not None:
            speck.set_slow_clk_rate(self._slow_clk_hz)
        self._speck, self._offset_us, self._readout = speck, 0.0, pending.readout
        self._next_readout_us = 1e6 / speck.slow_clk_hz
        self._wall.restart(0.0, since=pending.done_at)  # its time starts once it is written
        return True

    def wait_written(self) -> None:
        """Emulator only: wait until the configuration being written is in effect (what a
        host does with a read and its reply), for tests that drive the board directly."""
        self._settle(wait=True)

    def get_configuration(self) -> Any:
        return copy.deepcopy(self._configuration)

    def get_sink_node(self) -> EventNode:
        """Where events into the chip go (the chip is the sink of the host's events)."""
        return self._input

    def get_source_node(self) -> EventNode:
        """Where the chip's output events come from."""
        return self._output

    def restart_clock(self) -> None:
        """Stop-watch time zero is the chip's time now. Idle wall time before the reset is
        not counted: a replay starts where the chip's events left it, whatever the host did
        in between, so replays stay deterministic."""
        self._settle()
        if self._speck is not None:
            # a whole µs: chip time that wall time moved to a fraction must not shift inputs
            self._offset_us = float(math.ceil(self._speck.now_us))
            self._wall.restart(self._speck.now_us)

    def clock_runs(self, clock: str, running: bool) -> None:
        """The stop watch or the slow clock started or stopped: while either runs, chip time
        passes with wall time too (see ``wall_time``)."""
        if running:
            self._running_clocks.add(clock)
            self._wall.start(self._speck.now_us if self._speck is not None else 0.0)
        else:
            self._running_clocks.discard(clock)
            if not self._running_clocks:
                self._catch_up()
                self._wall.stop()

    def set_slow_clk_rate(self, hz: float) -> None:
        self._slow_clk_hz = hz
        if self._speck is not None:
            self._catch_up()  # ticks at the old rate until now
            self._speck.set_slow_clk_rate(hz)

    def reset_default(self) -> None:
        self._configuration = self._config_type()
        self._speck, self._pending = None, None
        self._offset_us = 0.0
        self._wall.restart(0.0)

    def _catch_up(self) -> None:
        """Bring the chip to the time the wall clock implies: the slow clock's leak ticks
        while the host slept happen now."""
        if self._speck is not None:
            now_us = self._wall.chip_us(self._speck.now_us)
            if now_us > self._speck.now_us:
                self._speck.run(_spike_array([]), until=now_us)
                self._emit_readouts()

    def process(self, events: Batch) -> None:
        """Run host events through the chip in order, forwarding what comes out. A spike
        array (the emulated buffers' extension) goes through as one batch. Spikes meet the
        configuration in effect; a neuron read or write waits until the one being written
        is in."""
        self._settle()
        if isinstance(events, np.ndarray):
            self._emit(self._run(events))
            return
        if all(type(event) is samna_events.Spike for event in events):  # a write of spikes
            self._emit(self._run(spike_array(events)))
            return
        pending: list[tuple[int, int, int, int, float]] = []
        for event in events:
            if isinstance(event, samna_events.Spike | samna_events.DvsEvent):
                pending.append(self._spike_row(event))
            elif isinstance(event, samna_events.ReadNeuronValue | samna_events.WriteNeuronValue):
                self._emit(self._run(_spike_array(pending)))
                pending = []
                reply = self._neuron_access(event)
                if reply is not None:
                    self._output.receive([reply])
            else:
                raise TypeError(f"the chip does not take {type(event).__name__} events")
        self._emit(self._run(_spike_array(pending)))

    def _spike_row(self, event: Any) -> tuple[int, int, int, int, float]:
        if isinstance(event, samna_events.DvsEvent):
            layer, feature = DVS_LAYER, event.p
        else:
            layer, feature = event.layer, event.feature
        return (layer, event.x, event.y, feature, event.timestamp)

    def _run(self, spikes: np.ndarray) -> np.ndarray:
        """Release ``spikes`` at their times on the stop watch (at once, if already past);
        the host's array is left as it was."""
        if not len(spikes) or self._speck is None:  # no configuration: nothing takes them
            return spikes[:0]
        speck = self._speck
        t, offset, now = spikes["t"], round(self._offset_us), int(np.ceil(speck.now_us))
        on_time = offset == 0 and t[0] >= now and bool(np.all(t[1:] >= t[:-1]))
        if not on_time:  # the common case (a replay from a reset stop watch) copies nothing
            release = np.maximum(t + offset, now)
            np.maximum.accumulate(release, out=release)
            if not np.array_equal(release, t):
                spikes = spikes.copy()
                spikes["t"] = release
        spikes = self._devkit.drop(spikes)
        if speck.program.dvs.pass_sensor_events:
            self._pass_sensor_events(spikes)
        outputs = self._devkit.power_monitor.run(speck, spikes, self._offset_us)
        self._emit_readouts()
        return outputs

    def _pass_sensor_events(self, spikes: np.ndarray) -> None:
        """With ``pass_sensor_events``, sensor events reach the host's sink too, as
        ``DvsEvent`` s stamped when they entered the chip."""
        sensor = spikes[spikes["layer"] == DVS_LAYER]
        if len(sensor):
            offset = round(self._offset_us)
            rows = zip(
                sensor["x"].tolist(),
                sensor["y"].tolist(),
                (sensor["feature"] > 0).tolist(),
                (sensor["t"] - offset).tolist(),
                strict=True,
            )
            self._output.receive(list(starmap(samna_events.DvsEvent.of, rows)))

    def _emit_readouts(self) -> None:
        """With the readout layer enabled, one ``ReadoutValue`` per slow-clock cycle the chip
        time has passed. Its classification is not modelled (value 0): what a host meets is
        that the sink is never quiet while it runs."""
        speck = self._speck
        if not self._readout or speck is None or speck.now_us < self._next_readout_us:
            return
        period = 1e6 / speck.slow_clk_hz
        cycles = int((speck.now_us - self._next_readout_us) // period) + 1
        stamps = self._next_readout_us + period * np.arange(cycles) - self._offset_us
        self._next_readout_us += period * cycles
        value = samna_events.ReadoutValue.of
        self._output.receive([value(0, stamp) for stamp in np.rint(stamps).astype(int).tolist()])

    def _emit(self, outputs: np.ndarray) -> None:
        """Forward the chip's outputs (a fresh array) with stop-watch times."""
        if not len(outputs):
            return
        if round(self._offset_us):
            outputs["t"] -= round(self._offset_us)
        self._output.receive(outputs)

    def _neuron_access(self, event: Any) -> samna_events.NeuronValue | None:
        just_written = self._settle(wait=True)
        speck = self._loaded()
        if not just_written:  # a chip written just now is at its time zero: replays repeat
            self._catch_up()
        states = speck.neuron_states(event.layer)
        neuron = neuron_index(event.address, states.shape, event.layer)
        if isinstance(event, samna_events.WriteNeuronValue):
            speck.write_neuron_state(event.layer, neuron, event.neuron_state)
            return None
        return samna_events.NeuronValue.of(
            event.layer, event.address, int(states[neuron]), round(speck.now_us - self._offset_us)
        )

    def _loaded(self) -> Speck:
        if self._speck is None:
            raise RuntimeError(f"{self._devkit.info.serial_number}: no configuration applied")
        return self._speck


def neuron_index(address: int, shape: tuple[int, int, int], core: int) -> tuple[int, int, int]:
    """(feature, y, x) of a neuron address, laid out as sinabs' ``calculate_neuron_address``
    computes it: feature in the low bits, then x, then y."""
    channels, height, width = shape
    feature_bits, y_bits = _bits(channels), _bits(height)
    feature = address & ((1 << feature_bits) - 1)
    x = (address >> feature_bits) & ((1 << _bits(width)) - 1)
    y = address >> (feature_bits + y_bits)
    if feature >= channels or x >= width or y >= height:
        raise ValueError(f"core {core}: neuron address {address} is outside its {shape} map")
    return feature, y, x


def _spike_array(rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=SPIKE_DTYPE) if rows else empty_spikes()


def _bits(size: int) -> int:
    return (size - 1).bit_length()


class _ChipInput(EventNode):
    def __init__(self, model: ChipModel) -> None:
        super().__init__()
        self._model = model

    def receive(self, events: Batch) -> None:
        self._model._devkit.accept(events)


class EmulatedDevkit:
    """One emulated board, as ``samna.device.open_device`` hands it out."""

    def __init__(self, info: Any, profile: str | ChipProfile, config_type: type) -> None:
        """``profile`` is the chip's truth, or the name of its chip ("speck2f"), whose truth
        then comes from ``HIL_SIM_PROFILE``."""
        self.info = info
        self.profile = emulated_profile(profile) if isinstance(profile, str) else profile
        self._configurations = 0
        self.faults = FaultPlan()
        self._rng = np.random.default_rng(0)
        self._events_in = 0
        self.model = ChipModel(self, config_type)
        self._stop_watch = StopWatch(self)
        self._io = IoModule(self)
        self.power_monitor = PowerMonitor(self)

    def use_profile(self, profile: ChipProfile) -> None:
        """Emulator only: from the next configuration applied on, the chip is this one (its
        budgets, latency and noise); its noise stream starts again from the profile's seed.
        The harness never calls it: what it believes comes from ``--profile``."""
        self.profile = profile
        self._configurations = 0

    def next_noise_seed(self) -> int:
        """The noise seed of the next configuration applied."""
        seed = self.profile.noise.seed + (self._configurations << 32)
        self._configurations += 1
        return seed

    def inject_faults(self, plan: FaultPlan) -> None:
        """Emulator only: make this board misbehave from now on (counts restart at zero)."""
        self.faults = plan
        self._rng = np.random.default_rng(plan.seed)
        self._events_in = 0

    def check_connected(self) -> None:
        limit = self.faults.disconnect_after_events
        if limit is not None and self._events_in >= limit:
            raise RuntimeError(f"device {self.info.serial_number} disconnected")

    def accept(self, events: Batch) -> None:
        """Take events from the host, misbehaving as the fault plan says."""
        self.check_connected()
        before = self._events_in
        self._events_in += len(events)
        disconnect = self.faults.disconnect_after_events
        if disconnect is not None and self._events_in > disconnect:
            self._process(events[: disconnect - before], before)
            self.check_connected()
        self._process(events, before)

    def _process(self, events: Batch, before: int) -> None:
        unresponsive = self.faults.unresponsive_after_events
        if unresponsive is not None:
            events = events[: max(0, unresponsive - before)]
        self.model.process(events)

    def drop(self, spikes: np.ndarray) -> np.ndarray:
        if self.faults.drop_probability <= 0:
            return spikes
        return spikes[self._rng.random(len(spikes)) >= self.faults.drop_probability]

    def reset_board_soft(self, restore_default: bool = True) -> None:
        self.check_connected()
        if restore_default:
            self.model.reset_default()

    def get_model(self) -> ChipModel:
        self.check_connected()
        return self.model

    def get_stop_watch(self) -> StopWatch:
        return self._stop_watch

    def get_io_module(self) -> IoModule:
        return self._io

    def get_power_monitor(self) -> PowerMonitor:
        """The board's power monitor (samples come from the profile's ``[power]`` model).
        A board whose truth says ``faults.missing_power_monitor`` has none: samna raises."""
        self.check_connected()
        if self.profile.faults.missing_power_monitor:
            raise RuntimeError(f"device {self.info.serial_number} has no power monitor")
        return self.power_monitor
