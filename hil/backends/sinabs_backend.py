"""The ``sinabs`` backend: sinabs' time-stepped forward of the discretized network.

Fast and the least faithful device: events are binned into ``dt_us`` steps, every neuron may
fire several times per step (MultiSpike), and there is no timing (``hil.backends.simulate``).
It cannot model output decimators, so a deployment that asks for one is refused.
"""

from __future__ import annotations

import numpy as np
import sinabs

from hil.backends.base import DeployError, Deployment, Device, DeviceInfo
from hil.backends.simulate import DEFAULT_DT_US, configured_copy, forward
from hil.backends.spec import DeviceSpec
from hil.chip.profile import ChipProfile


class SinabsDevice(Device):
    def __init__(self, spec: DeviceSpec, profile: ChipProfile, dt_us: int = DEFAULT_DT_US):
        self.profile = profile
        self.dt_us = dt_us
        self.info = DeviceInfo(
            kind="sinabs",
            device_type=spec.device_type,
            serial="software",
            samna_version="none",
            profile=profile.source,
            name=f"sinabs (time-stepped, dt={dt_us} µs)",
        )

    def _apply(self, deployment: Deployment, slow_clk_hz: float | None) -> None:
        config = deployment.mapping.config
        for core in deployment.mapping.layer2core.values():
            if config.cnn_layers[core].output_decimator_enable:
                layer = deployment.mapping.layer_of(core)
                raise DeployError(
                    f"{self.info}: layer {layer} has an output decimator, which the sinabs "
                    "backend cannot model; use --device sim",
                    layer=layer,
                )
        deployment.handle = configured_copy(deployment.mapping, deployment.reset_mode)

    def _reset_states(self, deployment: Deployment) -> None:
        sinabs.reset_states(deployment.handle)

    def _replay(self, deployment: Deployment, inputs: np.ndarray, timeout_s: float) -> np.ndarray:
        return forward(deployment.handle, deployment.mapping, inputs, self.dt_us)

    def close(self) -> None:
        """Nothing to release."""
