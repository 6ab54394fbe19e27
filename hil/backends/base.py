"""The device protocol: what every backend (samna, sinabs, specksim) offers the harness.

A ``Device`` deploys a sinabs network and returns a ``Deployment``; a deployment replays
events and returns a ``Run``. Backends differ only in how they apply a configuration, write
events and collect outputs, which they implement as ``Device._apply``, ``Device._replay`` and
``Device._reset_states``.
"""

from __future__ import annotations

import hashlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hil.backends.deploy import (
    PROBE_INPUT_SHAPE,
    RESET_MODES,
    Mapping,
    map_network,
    probe_network,
)
from hil.backends.errors import DeployError
from hil.events import as_events, empty_events
from hil.recordings import Recording

if TYPE_CHECKING:
    from hil.chip.profile import ChipProfile

__all__ = [
    "RESET_MODES",
    "DeployError",
    "Deployment",
    "Device",
    "DeviceError",
    "DeviceInfo",
    "DeviceUnavailable",
    "Run",
]

DEFAULT_TIMEOUT_MARGIN_S = 5.0
#: A host that wrote inputs later than this after they were due makes a host-limited run.
HOST_LAG_TOLERANCE_US = 100.0
#: How long a device may take to answer the barrier read that proves it alive.
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "real", "emulated", "sinabs" or "specksim"
    device_type: str  # sinabs' device id, e.g. "speck2fmodule"
    serial: str
    samna_version: str  # a version, "emulated", or "none"
    profile: str  # the device profile's name and source files
    name: str = ""  # what to call it in messages
    logic_version: str | None = None  # the board's FPGA logic, where the board reports one

    def __str__(self) -> str:
        return self.name or f"{self.device_type}@{self.serial}"


@dataclass
class Run:
    """What one replay put in and got out.

    ``inputs`` are the chip events as written (``SPIKE_DTYPE``), ``outputs`` every monitored
    output with its chip timestamp; ``wall_start`` (epoch s) and ``wall_s`` time the replay on
    the host. ``source`` names the recording. ``power`` holds the power monitor's samples
    taken during the replay (None on a device without one).
    """

    inputs: np.ndarray
    outputs: np.ndarray
    deployment: Deployment
    wall_start: float
    wall_s: float
    source: str = ""
    dt_us: int | None = None  # bin width of a time-stepped run; None for a device's own times
    reset_mode: str = ""
    source_sha256: str = ""  # the recording's, when a Recording was replayed
    host_lag_us: float = 0.0  # how late the host wrote inputs after they were due, at worst
    #: How long the device took to answer a read after the configuration was (re)applied
    #: before this replay (s); None where nothing was applied or the device has no such wait.
    config_write_s: float | None = None

    @property
    def host_limited(self) -> bool:
        """The host fell behind the stop watch: inputs went to the chip late, in bursts the
        recording does not have, so output delay says nothing about the chip."""
        return self.host_lag_us > HOST_LAG_TOLERANCE_US

    power: np.ndarray | None = None  # power monitor samples (backends.power.POWER_DTYPE)

    def outputs_of(self, core: int) -> np.ndarray:
        return self.outputs[self.outputs["layer"] == core]

    @property
    def duration_us(self) -> int:
        """From the first input to the last event in or out."""
        if len(self.inputs) == 0:
            return 0
        last = max(int(self.inputs["t"][-1]), int(self.outputs["t"].max(initial=0)))
        return last - int(self.inputs["t"][0])


class DeviceError(RuntimeError):
    """A device that failed, vanished or stopped answering. ``partial`` keeps the run up to
    the failure (inputs written, outputs collected), so nothing measured is lost."""

    def __init__(self, device: str, problem: str, partial: Run | None = None):
        super().__init__(f"{device}: {problem}")
        self.device = device
        self.problem = problem
        self.partial = partial


class DeviceUnavailable(DeviceError):
    """No device matching the spec can be opened here (none attached, or no real samna)."""


@dataclass
class Deployment:
    """A network as mapped onto a device. ``mapping`` says which layer sits on which core."""

    device: Device
    mapping: Mapping
    reset_mode: str
    handle: Any = field(default=None, repr=False)  # backend-private state
    #: sinabs' SNNAnalyzer SynOps per core of each reference run, by what it ran on
    _reference_synops: dict[tuple, dict[int, float]] = field(default_factory=dict, repr=False)

    def replay(
        self,
        events: Recording | np.ndarray | Iterable,
        timeout_s: float | None = None,
        reset: bool = True,
    ) -> Run:
        """Write ``events`` (sensor events, or a Recording) and collect outputs until the
        device is quiet. ``timeout_s`` (default 5 s) bounds how long the device may take,
        after the last input is released, to answer and go quiet; on the emulated devkit it
        is device time, so a slow host never fails a healthy device.

        Each replay starts from zeroed neuron states, so replaying a recording twice gives
        comparable runs; ``reset=False`` continues from the states the last replay left.
        """
        if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
        source, inputs = self._chip_inputs(events)
        if timeout_s is None:
            timeout_s = DEFAULT_TIMEOUT_MARGIN_S
        if reset:
            self.reset()
        started, clock = time.time(), time.perf_counter()
        try:
            outputs = self.device._replay(self, inputs, timeout_s)
        except DeviceError as exc:
            if exc.partial is not None:
                self.device._notify(exc.partial)
            raise
        run = Run(
            inputs=inputs,
            outputs=outputs,
            deployment=self,
            wall_start=started,
            wall_s=time.perf_counter() - clock,
            source=source,
            dt_us=self.device.dt_us,
            reset_mode=self.reset_mode,
            source_sha256=events.sha256 if isinstance(events, Recording) else "",
            host_lag_us=self.device.last_host_lag_us,
            power=self.device._power_samples(),
            config_write_s=self.device.last_config_write_s if reset else None,
        )
        self.device._notify(run)
        return run

    def reset(self) -> None:
        """Zero every neuron state without re-mapping the network."""
        self.device._reset_states(self)

    def reference(
        self,
        events: Recording | np.ndarray | Iterable,
        dt_us: int = 1000,
        spike_fn: type | None = None,
        reset: str | None = None,
    ) -> Run:
        """sinabs' time-stepped simulation of this deployment's discretized network on the
        same events, from zero states: what the chip is judged against.

        The reset matches the deployment's (``subtract`` ↔ MembraneSubtract, ``zero`` ↔
        MembraneReset) unless ``reset`` names the other; ``spike_fn`` defaults to sinabs'
        MultiSpike, which sinabs reports matches the chip best. Outputs are stamped at the
        start of their ``dt_us`` bin (``Run.dt_us``).
        """
        from hil.backends.simulate import simulate  # sinabs and torch load when first needed

        reset_mode = reset or self.reset_mode
        if reset_mode not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}; got {reset_mode!r}")
        source, inputs = self._chip_inputs(events)
        started, clock = time.time(), time.perf_counter()
        synops: dict[int, float] = {}
        outputs = simulate(self.mapping, inputs, reset_mode, dt_us, spike_fn, synops=synops)
        self._reference_synops[_reference_key(inputs, dt_us, reset_mode, spike_fn)] = synops
        return Run(
            inputs=inputs,
            outputs=outputs,
            deployment=self,
            wall_start=started,
            wall_s=time.perf_counter() - clock,
            source=source,
            dt_us=dt_us,
            reset_mode=reset_mode,
        )

    def sinabs_synops(
        self, inputs: np.ndarray, dt_us: int, reset_mode: str, compute: bool = False
    ) -> dict[int, float] | None:
        """SynOps per core (totals over the run) as sinabs' SNNAnalyzer counts them on the
        reference over chip ``inputs``: from the reference already run on these inputs (its
        forward counted them), else, with ``compute``, from a reference run now; else None."""
        key = _reference_key(inputs, dt_us, reset_mode, None)
        if key not in self._reference_synops and compute:
            from hil.backends.simulate import simulate

            synops: dict[int, float] = {}
            simulate(self.mapping, inputs, reset_mode, dt_us, synops=synops)
            self._reference_synops[key] = synops
        return self._reference_synops.get(key)

    def _chip_inputs(self, events: Recording | np.ndarray | Iterable) -> tuple[str, np.ndarray]:
        source = events.name if isinstance(events, Recording) else ""
        sensor_events = events.events if isinstance(events, Recording) else as_events(events)
        return source, self.mapping.input_spikes(sensor_events, source=source or "events")


class Device(ABC):
    """An opened device. Use it as a context manager, or call ``close()``."""

    info: DeviceInfo
    profile: ChipProfile
    dt_us: int | None = None  # time step of a time-stepped device; None for one with real time
    last_host_lag_us: float = 0.0  # the last replay's Run.host_lag_us, set by the backend
    last_config_write_s: float | None = None  # the last configuration write's barrier time
    power_problem: str | None = None  # why the device gives no power samples, if it says
    #: How long ``probe`` waits for the barrier read's answer (a board's facts may say more:
    #: ``hil.calibration.board_facts``).
    probe_timeout_s: float = PROBE_TIMEOUT_S

    def deploy(
        self,
        net,
        input_shape: tuple[int, int, int],
        reset: str | None = None,
        monitor: str | list[int] = "exit",
        decimators: dict[int, int] | None = None,
        slow_clk_hz: float | None = None,
        layer2core_map: str | dict[int, int] = "auto",
    ) -> Deployment:
        """Map a sinabs network with sinabs' own mapper, apply the options, load it.

        ``reset``: None (the default) takes it from the network's sinabs neurons, as sinabs'
        mapper does (MembraneSubtract: "subtract", MembraneReset: "zero"); naming one that
        contradicts them deploys it, and the lint of the deployment reports an error;
        ``monitor``: "exit", "all" or a list of sinabs layer indices; ``decimators``:
        {layer index: interval code 0..7}. An undeployable network raises ``DeployError``
        naming the layer before the device is touched.
        """
        if reset is not None and reset not in RESET_MODES:
            raise ValueError(f"reset must be None or one of {RESET_MODES}; got {reset!r}")
        mapping = map_network(
            net,
            input_shape,
            device_type=self.info.device_type,
            profile=self.profile,
            reset=reset,
            monitor=monitor,
            decimators=decimators or {},
            layer2core_map=layer2core_map,
        )
        deployment = Deployment(device=self, mapping=mapping, reset_mode=mapping.reset_mode)
        self._apply(deployment, slow_clk_hz)
        return deployment

    def probe(self, deployment: Deployment | None = None, timeout_s: float | None = None):
        """Raise ``DeviceError`` unless the device answers a barrier read now, with
        ``deployment``'s configuration (loaded again when it belongs to an earlier opening of
        the device) or a one-neuron probe network. Loading a configuration needs no reply, so
        only an answer proves a device alive."""
        if deployment is None:
            mapping = self._probe_mapping()
            deployment = Deployment(device=self, mapping=mapping, reset_mode=mapping.reset_mode)
            self._apply(deployment, None)
        elif deployment.device is not self:
            deployment = Deployment(self, deployment.mapping, deployment.reset_mode)
            self._apply(deployment, None)
        deployment.replay(empty_events(), timeout_s=timeout_s or self.probe_timeout_s)

    def _probe_mapping(self) -> Mapping:
        return map_network(
            probe_network(),
            PROBE_INPUT_SHAPE,
            device_type=self.info.device_type,
            profile=self.profile,
            reset=None,
            monitor="exit",
            decimators={},
            layer2core_map="auto",
        )

    @property
    def run_listeners(self) -> list[Callable[[Run], None]]:
        """Called with every run a replay produces, a failed replay's partial run included:
        how the pytest plugin captures runs without the backends knowing about it."""
        return self.__dict__.setdefault("_run_listeners", [])

    def _notify(self, run: Run) -> None:
        for listener in list(self.run_listeners):
            listener(run)

    @abstractmethod
    def _apply(self, deployment: Deployment, slow_clk_hz: float | None) -> None: ...

    @abstractmethod
    def _replay(self, deployment: Deployment, inputs: np.ndarray, timeout_s: float) -> np.ndarray:
        """Write ``inputs`` (SPIKE_DTYPE), return the outputs (SPIKE_DTYPE)."""

    @abstractmethod
    def _reset_states(self, deployment: Deployment) -> None: ...

    def _power_samples(self) -> np.ndarray | None:
        """The power monitor's samples of the last replay; None without a monitor."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the device; closing twice is harmless."""

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info}>"


def _reference_key(inputs: np.ndarray, dt_us: int, reset_mode: str, spike_fn: Any) -> tuple:
    digest = hashlib.blake2b(np.ascontiguousarray(inputs).data, digest_size=16).hexdigest()
    return (digest, dt_us, reset_mode, spike_fn)
