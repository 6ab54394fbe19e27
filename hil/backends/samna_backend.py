"""The samna backend: one code path for a real devkit and for the emulated one.

It only uses samna's public API (facts.md §2): list and open a device, apply a configuration,
connect a source buffer to the chip and the chip to a sink buffer, drive the stop watch,
write events, read outputs. Given the real ``samna`` module it drives a devkit; given
``hil.emulator.samna`` it drives the emulated devkit, so CI exercises the lab's code.

Quiescence is a barrier, not a sleep: after the payload a ``ReadNeuronValue`` is written;
the chip answers it only after everything before it, so once its reply is back, what remains
is at most the outputs still in flight, collected until the sink stays empty for
``quiet_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    Run,
)
from hil.backends.spec import DeviceSpec
from hil.bulk import collector_paused
from hil.chip.devices import SINK_BUFFERS, SOURCE_BUFFERS
from hil.chip.profile import ChipProfile
from hil.events import SPIKE_DTYPE

WRITE_CHUNK = 8192
POLL_MS = 20
#: Devices this process has open, by (samna module, serial): one owner each.
_owners: dict[tuple[int, str], SamnaDevice] = {}


class SamnaDevice(Device):
    """A devkit opened through ``samna`` (real or emulated)."""

    def __init__(
        self,
        samna: ModuleType,
        spec: DeviceSpec,
        profile: ChipProfile,
        *,
        kind: str,
        samna_version: str,
        quiet_ms: int,
        prepare: Callable[[Any], None] | None = None,
    ):
        """``prepare`` is called with the opened board before anything else: the emulated
        devkit takes the device profile from it, so a lab's override is what it emulates."""
        self._samna = samna
        self._realtime = kind == "real"
        self._spec = spec
        self.profile = profile
        self._quiet_ms = quiet_ms
        device_info = _select(samna, spec)
        owner = _owners.get((id(samna), str(device_info.serial_number)))
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
            name=f"{spec.device_type}@{device_info.serial_number}"
            + (" (emulated)" if kind == "emulated" else ""),
            logic_version=_logic_version(device_info),
        )
        try:
            self._handle = samna.device.open_device(device_info)
        except RuntimeError as exc:
            raise DeviceUnavailable(
                str(self.info), f"cannot be opened ({exc}); is another process using it?"
            ) from exc
        if prepare is not None:
            prepare(self._handle)
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
        self._owner_key = (id(samna), self.info.serial)
        _owners[self._owner_key] = self

    def _apply(self, deployment: Deployment, slow_clk_hz: float | None) -> None:
        if deployment.mapping.config_hash != self._applied_hash:
            self._load(deployment)
        if slow_clk_hz is not None:
            io = self._handle.get_io_module()
            self._guard("set the slow clock", io.set_slow_clk, True)
            self._guard("set the slow clock", io.set_slow_clk_rate, int(slow_clk_hz))

    def _load(self, deployment: Deployment) -> None:
        """Write the deployment's configuration; the chip's neuron states start from it."""
        try:
            self._model.apply_configuration(deployment.mapping.config)
        except (RuntimeError, ValueError) as exc:
            raise DeployError(f"{self.info}: the device refused the configuration: {exc}") from exc
        self._applied_hash = deployment.mapping.config_hash

    def _reset_states(self, deployment: Deployment) -> None:
        self._guard(
            "reset neuron states", self._model.apply_configuration, deployment.mapping.config
        )
        self._applied_hash = deployment.mapping.config_hash

    def _replay(self, deployment: Deployment, inputs: np.ndarray, timeout_s: float) -> np.ndarray:
        if deployment.mapping.config_hash != self._applied_hash:
            self._load(deployment)  # a later deploy replaced it on the chip: load it again
        collected: list[Any] = []
        partial = _Partial(deployment, inputs, collected, self._chip.event.Spike)
        deadline = time.monotonic() + timeout_s
        try:
            self._sink.get_events()
            self._stop_watch.reset()
            self._stop_watch.start()
            released = time.monotonic() + (int(inputs["t"][-1]) / 1e6 if len(inputs) else 0)
            for start in range(0, len(inputs), WRITE_CHUNK):
                self._source.write(self._spikes(inputs[start : start + WRITE_CHUNK]))
                collected.extend(self._sink.get_events())
            barrier_core = min(deployment.mapping.layer2core.values())
            self._source.write([self._chip.event.ReadNeuronValue(layer=barrier_core, address=0)])
            self._wait_for_barrier(collected, released if self._realtime else 0, deadline)
            self._drain(collected, deadline)
        except DeviceError as exc:
            self._salvage(collected)
            exc.partial = partial.run()
            raise
        except Exception as exc:  # samna raises RuntimeError (and others) when a device goes
            self._salvage(collected)
            raise DeviceError(
                str(self.info), f"failed during replay: {exc}", partial.run()
            ) from exc
        return _to_array(collected, self._chip.event.Spike)

    def _salvage(self, collected: list[Any]) -> None:
        """Keep what reached the host-side buffer before the device failed."""
        try:
            collected.extend(self._sink.get_events())
        except Exception:  # the buffer went with the device: nothing more to keep
            return

    def _wait_for_barrier(self, collected: list[Any], released: float, deadline: float) -> None:
        """Until the barrier's reply is back and (on a real chip, which releases inputs in
        real time) the stop watch has passed the last input."""
        answered = False
        while True:
            events = self._sink.get_events_blocking(POLL_MS)
            collected.extend(events)
            answered = answered or any(hasattr(event, "neuron_state") for event in events)
            if answered and time.monotonic() >= released:
                return
            if time.monotonic() > deadline:
                raise DeviceError(
                    str(self.info),
                    "stopped answering: no reply to the barrier read before the timeout",
                )

    def _drain(self, collected: list[Any], deadline: float) -> None:
        while time.monotonic() <= deadline:
            events = (
                self._sink.get_events_blocking(self._quiet_ms)
                if self._quiet_ms
                else self._sink.get_events()
            )
            if not events:
                return
            collected.extend(events)
        raise DeviceError(str(self.info), "never went quiet: outputs kept coming until the timeout")

    def _spikes(self, inputs: np.ndarray) -> list[Any]:
        spike = self._chip.event.Spike
        with collector_paused():
            return [
                spike(layer=layer, x=x, y=y, feature=feature, timestamp=t)
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
        try:
            self._samna.device.close_device(self._handle)
        except Exception as exc:  # a vanished device cannot be closed; it is released anyway
            raise DeviceError(str(self.info), f"failed to close: {exc}") from exc


class _Partial:
    """Builds the ``Run`` a failed replay got as far as."""

    def __init__(
        self, deployment: Deployment, inputs: np.ndarray, collected: list[Any], spike_type: type
    ):
        self.deployment, self.inputs, self.collected = deployment, inputs, collected
        self.spike_type = spike_type
        self.started = time.time()

    def run(self) -> Run:
        return Run(
            inputs=self.inputs,
            outputs=_to_array(self.collected, self.spike_type),
            deployment=self.deployment,
            wall_start=self.started,
            wall_s=time.time() - self.started,
        )


def _to_array(events: list[Any], spike_type: type) -> np.ndarray:
    with collector_paused():
        rows = [
            (e.layer, e.x, e.y, e.feature, e.timestamp) for e in events if isinstance(e, spike_type)
        ]
    return np.array(rows, dtype=SPIKE_DTYPE) if rows else np.zeros(0, dtype=SPIKE_DTYPE)


def _select(samna: ModuleType, spec: DeviceSpec) -> Any:
    """The DeviceInfo that ``spec`` names, indices ordered by USB address as sinabs does."""
    listed = list(samna.device.get_all_devices())
    matching = sorted(
        (d for d in listed if d.device_type_name == spec.samna_type_name),
        key=lambda d: d.usb_device_address,
    )
    attached = ", ".join(f"{d.device_type_name}@{d.serial_number}" for d in listed) or "none"
    if spec.serial is not None:
        for device in matching:
            if str(device.serial_number) == spec.serial:
                return device
        raise DeviceUnavailable(
            str(spec), f"no {spec.samna_type_name} with serial {spec.serial} (attached: {attached})"
        )
    index = spec.index or 0
    if index >= len(matching):
        raise DeviceUnavailable(
            str(spec),
            f"no {spec.samna_type_name} number {index} (attached: {attached}); "
            "run `speck-hil devices` to list devices",
        )
    return matching[index]


def _logic_version(device_info: Any) -> str | None:
    """The board's logic version, for the run record's provenance; None where samna's
    device info has none."""
    version = getattr(device_info, "logic_version", None)
    return None if version is None else str(version)
