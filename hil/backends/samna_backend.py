"""The samna backend: one code path for a real devkit and for the emulated one.

It only uses samna's public API (facts.md §2): list and open a device, apply a configuration,
connect a source buffer to the chip and the chip to a sink buffer, drive the stop watch,
write events, read outputs. Given the real ``samna`` module it drives a devkit; given
``hil.emulator.samna`` it drives the emulated devkit, so CI exercises the lab's code.

Quiescence is a barrier, not a sleep: after the payload a ``ReadNeuronValue`` is written;
the chip answers it only after everything before it, so once its reply is back, what remains
is at most the outputs still in flight, collected until no monitored spike arrives for
``quiet_ms`` (readout values, sensor events and replies share the sink and do not count).
``apply_configuration`` returns before the configuration is written (sinabs sleeps 1 s after
it), so every one is followed by the same barrier before the stop watch starts; its time is
kept in the run (``Run.config_write_s``). The configuration's initial neuron values are zero
(``deploy``): re-applying it is how states are reset.

Events are built field by field (samna documents no keyword constructors). Every call that
may block (a blocking read, ``close_device``) is bounded in time (``bounded``).

Events travel as samna's event objects, as on a devkit; with ``arrays=True`` (the emulated
devkit's extension of samna's API, ``HIL_SIM_ARRAYS=1``) as arrays where the buffers take them;
the host's side of a replay runs with the cyclic garbage collector paused. Deadlines are in
device time: on a real chip the timeout starts when the last input is released; on the
emulated devkit, which has done its work when a write returns, it bounds the device time of
the outputs, so host speed never fails a healthy device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from hil.backends.base import (
    DeployError,
    Deployment,
    Device,
    DeviceError,
    DeviceInfo,
    DeviceUnavailable,
)
from hil.backends.bounded import bounded
from hil.backends.power import PowerSampler, open_power_sampler
from hil.backends.samna_boards import board_id, logic_version, select_device_info
from hil.backends.samna_outputs import Outputs, PartialRun, check_quiet_in_device_time
from hil.backends.spec import DeviceSpec
from hil.bulk import collector_paused
from hil.chip.devices import SINK_BUFFERS, SOURCE_BUFFERS
from hil.chip.profile import ChipProfile
from hil.emulator.program import DVS_LAYER

#: Events per write: samna's event objects, and spike arrays on the emulated devkit.
WRITE_CHUNK = 8192
ARRAY_CHUNK = 1 << 18
POLL_MS = 20
#: How long a configuration write may take before the board counts as not answering (sinabs
#: waits 1 s for one, a full chip's at most).
CONFIG_WRITE_TIMEOUT_S = 10.0
#: How long closing a board may take.
CLOSE_TIMEOUT_S = 10.0
#: A blocking read may overrun its own timeout by this much before it counts as hung.
BLOCKING_MARGIN_S = 5.0
#: On a real chip, inputs are released this much later on the stop watch than their times
#: say, so the host has written the first ones before they are due (outputs are shifted back).
REAL_LEAD_US = 50_000
#: Devices this process has open, by (samna module, serial): one owner each.
_owners: dict[tuple[int, str], SamnaDevice] = {}


class SamnaDevice(Device):
    """A devkit opened through ``samna`` (real or emulated)."""

    #: How long a configuration write may take on this board (its board facts may say more:
    #: ``hil.calibration.board_facts``).
    config_write_timeout_s: float = CONFIG_WRITE_TIMEOUT_S

    def __init__(
        self,
        samna: ModuleType,
        spec: DeviceSpec,
        profile: ChipProfile,
        *,
        kind: str,
        samna_version: str,
        quiet_ms: int,
        arrays: bool = False,
    ):
        """``arrays=True`` sends spikes as arrays where both buffers take them (the emulated
        devkit's fast path, for benchmarks and big runs); else as samna's event objects, the
        path a real devkit takes."""
        self._samna = samna
        self._realtime = kind == "real"
        self._spec = spec
        self.profile = profile
        self._quiet_ms = quiet_ms
        device_info = select_device_info(samna, spec)
        board = board_id(device_info)
        owner = _owners.get((id(samna), board))
        if owner is not None:
            raise DeviceUnavailable(
                str(spec), f"{owner.info} is already open in this process; close it first"
            )
        self.info = DeviceInfo(
            kind=kind,
            device_type=spec.device_type,
            serial=str(device_info.serial_number),
            samna_version=samna_version,
            profile=profile.source,
            name=f"{spec.device_type}@{board}" + (" (emulated)" if kind == "emulated" else ""),
            logic_version=logic_version(device_info),
        )
        try:
            self._handle = samna.device.open_device(device_info)
        except RuntimeError as exc:
            raise DeviceUnavailable(
                str(self.info), f"cannot be opened ({exc}); is another process using it?"
            ) from exc
        if self._handle is None:  # sinabs guards for it too
            raise DeviceUnavailable(
                str(self.info), "samna's open_device gave nothing; is another process using it?"
            )
        self._chip = getattr(samna, profile.name)
        self._applied_hash: str | None = None
        self._closed = False
        self._guard("reset to its default configuration", self._handle.reset_board_soft, True)
        self._model = self._handle.get_model()
        self._source = getattr(samna, SOURCE_BUFFERS[profile.name])()
        self._sink = getattr(samna, SINK_BUFFERS[profile.name])()
        self._graphs = [samna.graph.EventFilterGraph(), samna.graph.EventFilterGraph()]
        self._graphs[0].sequential([self._source, self._model.get_sink_node()])
        self._graphs[1].sequential([self._model.get_source_node(), self._sink])
        for graph in self._graphs:
            graph.start()
        self._stop_watch = self._handle.get_stop_watch()
        self._stop_watch.set_enable_value(True)
        #: Events travel as arrays where both buffers take them (the emulated devkit's
        #: extension of samna's API), else as samna's event objects.
        self.arrays = arrays and _takes_arrays(self._source, self._sink)
        self._power, self.power_problem = open_power_sampler(samna, self._handle, str(self.info))
        self.last_config_write_s: float | None = None
        self._owner_key = (id(samna), board)
        _owners[self._owner_key] = self
        self._device_info = device_info

    def board(self) -> SamnaBoard:
        """The samna objects behind this device, for code that measures the board itself
        (``speck-hil doctor``) instead of replaying a network. Whatever it loads replaces
        the deployment's configuration, so the next replay loads that again."""
        self._applied_hash = None
        return SamnaBoard(
            samna=self._samna,
            chip=self._chip,
            handle=self._handle,
            model=self._model,
            source=self._source,
            sink=self._sink,
            stop_watch=self._stop_watch,
            power=self._power,
            device_info=self._device_info,
            realtime=self._realtime,
            quiet_ms=self._quiet_ms,
        )

    def _apply(self, deployment: Deployment, slow_clk_hz: float | None) -> None:
        if deployment.mapping.config_hash != self._applied_hash:
            self._load(deployment)
        if slow_clk_hz is not None:
            io = self._handle.get_io_module()
            self._guard("set the slow clock", io.set_slow_clk, True)
            self._guard("set the slow clock", io.set_slow_clk_rate, int(slow_clk_hz))

    def _load(self, deployment: Deployment) -> None:
        """Write the deployment's configuration; the chip's neuron states start from it."""
        config = deployment.mapping.config
        try:
            self._model.apply_configuration(config)
        except Exception as exc:
            # a configuration the chip cannot run is bad input; one it can, a failing device
            valid, message = self._chip.validate_configuration(config)
            if not valid:
                raise DeployError(
                    f"{self.info}: the device refused the configuration: {message or exc}"
                ) from exc
            raise DeviceError(
                str(self.info), f"failed to load a valid configuration: {exc}"
            ) from exc
        self._applied_hash = deployment.mapping.config_hash
        self._await_configuration(deployment)

    def _reset_states(self, deployment: Deployment) -> None:
        """Apply the configuration again: its initial neuron values are zero (``deploy``)."""
        self._guard(
            "reset neuron states", self._model.apply_configuration, deployment.mapping.config
        )
        self._applied_hash = deployment.mapping.config_hash
        self._await_configuration(deployment)

    def _await_configuration(self, deployment: Deployment) -> None:
        """A read and its reply after ``apply_configuration``, which returns before the
        configuration is written: inputs written before the reply would meet a half-written
        chip. The time it takes is kept (``last_config_write_s``)."""
        started = time.monotonic()
        deadline = started + self.config_write_timeout_s
        with collector_paused():
            self._write_barrier(deployment)
            while not self._replied():
                if not self._realtime or time.monotonic() > deadline:
                    timeout = self.config_write_timeout_s
                    within = f" within {timeout:g} s" if self._realtime else ""
                    raise DeviceError(
                        str(self.info),
                        "stopped answering: no reply to the read after applying the "
                        f"configuration{within}",
                    )
        self.last_config_write_s = time.monotonic() - started

    def _replied(self) -> bool:
        """Whether a read's reply is among what the sink holds now (on a real chip, within a
        poll); what else is there came before the replay and is dropped."""
        events = self._blocking_read(POLL_MS) if self._realtime else self._sink.get_events()
        return any(hasattr(event, "neuron_state") for event in events)

    def _blocking_read(self, timeout_ms: int) -> list[Any]:
        seconds = timeout_ms / 1000 + BLOCKING_MARGIN_S
        call = self._sink.get_events_blocking
        return bounded(str(self.info), "a blocking read", seconds, call, timeout_ms)

    def _replay(self, deployment: Deployment, inputs: np.ndarray, timeout_s: float) -> np.ndarray:
        if deployment.mapping.config_hash != self._applied_hash:
            self._load(deployment)  # a later deploy replaced it on the chip: load it again
        lead_us = REAL_LEAD_US if self._realtime and len(inputs) else 0
        outputs = Outputs(self._chip.event.Spike, lead_us)
        partial = PartialRun(deployment, inputs, outputs)
        self.last_host_lag_us = 0.0
        try:
            with collector_paused():  # the host's side of a replay makes no cycles
                self._read(outputs)  # leftovers of an earlier replay
                outputs.clear()
                if self._realtime:
                    self._replay_in_real_time(deployment, inputs, outputs, lead_us, timeout_s)
                else:
                    self._replay_emulated(deployment, inputs, outputs, timeout_s)
        except DeviceError as exc:
            self._salvage(outputs)
            exc.partial = partial.run(self.last_host_lag_us)
            raise
        except Exception as exc:  # samna raises RuntimeError (and others) when a device goes
            self._salvage(outputs)
            raise DeviceError(
                str(self.info), f"failed during replay: {exc}", partial.run(self.last_host_lag_us)
            ) from exc
        return outputs.spikes()

    def _replay_emulated(
        self, deployment: Deployment, inputs: np.ndarray, outputs: Outputs, timeout_s: float
    ) -> None:
        """The emulated chip has done all its work when a write returns, and its stop watch
        runs on events, not on the host's clock: the deadline is in device time (outputs
        later than ``timeout_s`` after the last input), so a slow host or a cold compile
        cache never fails a healthy device."""
        self._start_stop_watch()
        self._write_all(inputs, outputs, started=None, lead_us=0)
        self._write_barrier(deployment)
        self._read(outputs)
        if not outputs.answered:
            raise DeviceError(
                str(self.info),
                "stopped answering: the emulated chip took the inputs and did not answer the "
                f"barrier read ({outputs.count} outputs before it)",
            )
        last_input_us = int(inputs["t"][-1]) if len(inputs) else 0
        check_quiet_in_device_time(str(self.info), outputs, last_input_us, timeout_s)

    def _power_samples(self) -> np.ndarray | None:
        if self._power is None:
            return None
        samples = self._power.samples()
        self.power_problem = self._power.problem
        return samples

    def _replay_in_real_time(
        self,
        deployment: Deployment,
        inputs: np.ndarray,
        outputs: Outputs,
        lead_us: int,
        timeout_s: float,
    ) -> None:
        """A real chip releases each input when its stop watch reaches the input's time
        (shifted by ``lead_us``, so the host can write the first events before they are due).
        The deadline starts when the last input is released."""
        started = self._start_stop_watch()
        self._write_all(inputs, outputs, started, lead_us)
        last_release = started + (lead_us + (int(inputs["t"][-1]) if len(inputs) else 0)) / 1e6
        self._write_barrier(deployment)
        deadline = max(last_release, time.monotonic()) + timeout_s
        while not (outputs.answered and time.monotonic() >= last_release):
            self._read(outputs, POLL_MS)
            if time.monotonic() > deadline:
                raise DeviceError(
                    str(self.info),
                    f"stopped answering: no reply to the barrier read {timeout_s:g} s after the "
                    f"last input was released; {outputs.activity(since=last_release)}",
                )
        while self._read(outputs, self._quiet_ms):
            if time.monotonic() > deadline:
                raise DeviceError(
                    str(self.info),
                    f"never went quiet: {timeout_s:g} s after the last input was released, "
                    f"{outputs.activity(since=last_release)}",
                )

    def _start_stop_watch(self) -> float:
        self._stop_watch.reset()
        self._stop_watch.start()
        if self._power is not None:
            self._power.clear()
        return time.monotonic()

    def _write_all(
        self, inputs: np.ndarray, outputs: Outputs, started: float | None, lead_us: int
    ) -> None:
        """Write ``inputs`` in chunks, collecting what comes out in between. With ``started``
        (a real chip's stop-watch start), measure how late the host wrote each chunk."""
        chunk = ARRAY_CHUNK if self.arrays else WRITE_CHUNK
        for start in range(0, len(inputs), chunk):
            part = inputs[start : start + chunk]
            if lead_us:
                part = part.copy()
                part["t"] += lead_us
            if self.arrays:
                self._source.write_array(part)
            else:
                self._source.write(self._input_events(part))
            if started is not None:  # the chunk's first event was due at part["t"][0]
                late_us = (time.monotonic() - started) * 1e6 - int(part["t"][0])
                self.last_host_lag_us = max(self.last_host_lag_us, late_us)
            self._read(outputs)

    def _write_barrier(self, deployment: Deployment) -> None:
        read = self._chip.event.ReadNeuronValue()
        read.layer, read.address = min(deployment.mapping.layer2core.values()), 0
        self._source.write([read])

    def _read(self, outputs: Outputs, timeout_ms: int = 0) -> int:
        """Move what the sink holds into ``outputs``, waiting up to ``timeout_ms`` for
        something to arrive; returns how many monitored spikes came (what else shares the
        sink, readout values, sensor events, replies, never keeps a replay from being quiet)."""
        if self.arrays:
            return outputs.add_array(*self._sink.get_array(timeout_ms))
        events = self._blocking_read(timeout_ms) if timeout_ms else self._sink.get_events()
        return outputs.add_events(events)

    def _salvage(self, outputs: Outputs) -> None:
        """Keep what reached the host-side buffer before the device failed."""
        try:
            self._read(outputs)
        except Exception:  # the buffer went with the device: nothing more to keep
            return

    def _input_events(self, inputs: np.ndarray) -> list[Any]:
        """Input events as samna's event objects, built field by field (the caller pauses
        the collector): a ``Spike`` names the core it enters; sensor events enter the DVS
        layer only as ``DvsEvent`` (a Spike is never addressed to it)."""
        spike_type, dvs_event = self._chip.event.Spike, self._chip.event.DvsEvent

        def spike(layer: int, x: int, y: int, feature: int, t: int) -> Any:
            event = spike_type()
            event.layer, event.x, event.y, event.feature, event.timestamp = layer, x, y, feature, t
            return event

        return [
            _dvs_event(dvs_event, x, y, feature, t)
            if layer == DVS_LAYER
            else spike(layer, x, y, feature, t)
            for layer, x, y, feature, t in inputs.tolist()
        ]

    def _guard(self, action: str, call, *args):
        try:
            return call(*args)
        except Exception as exc:
            raise DeviceError(str(self.info), f"failed to {action}: {exc}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _owners.pop(self._owner_key, None)
        for graph in self._graphs:
            graph.stop()
        if self._power is not None:
            self._power.close()
        try:
            close = self._samna.device.close_device
            bounded(str(self.info), "closing the board", CLOSE_TIMEOUT_S, close, self._handle)
        except DeviceError:
            raise
        except Exception as exc:  # a vanished device cannot be closed; it is released anyway
            raise DeviceError(str(self.info), f"failed to close: {exc}") from exc


@dataclass(frozen=True)
class SamnaBoard:
    """An open devkit's samna objects (``SamnaDevice.board``): the chip's samna module
    (``samna.speck2f``), the device handle and its model, the host's source and sink buffers,
    the stop watch, the power sampler (None without a monitor) and samna's DeviceInfo.
    ``realtime``: a real board, whose inputs wait for their time on the stop watch."""

    samna: ModuleType
    chip: ModuleType
    handle: Any
    model: Any
    source: Any
    sink: Any
    stop_watch: Any
    power: PowerSampler | None
    device_info: Any
    realtime: bool
    quiet_ms: int


def _dvs_event(dvs_event: type, x: int, y: int, p: int, t: int) -> Any:
    """A samna ``DvsEvent``, built field by field: samna documents no keyword constructor
    for it, and its polarity is a bool."""
    event = dvs_event()
    event.x, event.y, event.p, event.timestamp = x, y, bool(p), t
    return event


def _takes_arrays(source: Any, sink: Any) -> bool:
    return callable(getattr(source, "write_array", None)) and callable(
        getattr(sink, "get_array", None)
    )
