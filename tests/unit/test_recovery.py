"""Honest recovery on the emulated devkit: a device that vanishes while being opened or while a
network is loaded is a device error, not bad input; a silent device is not "recovered" by a
soft reset, which needs no reply."""

import numpy as np
import pytest

from hil import recordings
from hil.backends import DeployError, DeviceError, open_device
from hil.cli import main
from hil.cli.common import EXIT_DEVICE
from hil.emulator.devkit import EmulatedDevkit, FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.examples import INPUT_SHAPE_34, scnn_34
from hil.lab.device_session import DeviceSession
from hil.recordings import synthetic


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def stream():
    return synthetic.poisson(5_000, 0.05, size=(34, 34), seed=1)


def test_a_device_that_vanishes_during_deploy_is_a_device_error():
    """It raised DeployError (bad input, exit status 2) and no recovery ran."""
    with open_device("sim") as device:
        board = emulated_devices.emulated_devkit(device.info.serial)
        board.inject_faults(FaultPlan(disconnect_after_events=0))
        with pytest.raises(DeviceError, match="failed to load a valid configuration") as caught:
            device.deploy(scnn_34(), INPUT_SHAPE_34)
        assert not isinstance(caught.value, DeployError)


def test_a_configuration_the_chip_refuses_is_still_bad_input():
    with open_device("sim") as device:
        deployment = device.deploy(scnn_34(), INPUT_SHAPE_34)
        deployment.mapping.config.cnn_layers[0].threshold_low = 0
        deployment.mapping.config_hash = "changed"
        with pytest.raises(DeployError, match="refused the configuration"):
            device._apply(deployment, None)


def test_a_device_that_vanishes_while_opening_is_a_device_error(monkeypatch, tmp_path, capsys):
    """It gave a bare traceback."""

    def vanished(self):
        raise RuntimeError(f"device {self.info.serial_number} disconnected")

    monkeypatch.setattr(EmulatedDevkit, "get_stop_watch", vanished)
    with pytest.raises(DeviceError, match="failed while opening: device SIM0000 disconnected"):
        open_device("sim")
    models = "hil.examples"
    recording = tmp_path / "r.h5"
    recordings.save(recording, synthetic.poisson(1_000, 0.05, size=(34, 34), seed=1), (34, 34, 2))
    code = main(["replay", "--recording", str(recording), "--model", f"{models}:scnn_34"])
    assert code == EXIT_DEVICE
    assert "device error" in capsys.readouterr().err


def test_a_silent_board_is_not_recovered_by_a_soft_reset(stream):
    """It reported "recovered by a soft reset" twice: applying a configuration needs no
    reply. Only a barrier read answered counts; the emulated board, re-opened, answers."""
    session = DeviceSession("sim", lambda: open_device("sim"))
    device = session.begin_test()
    deployment = device.deploy(scnn_34(), INPUT_SHAPE_34)
    deployment.replay(stream)
    emulated_devices.emulated_devkit(device.info.serial).inject_faults(
        FaultPlan(unresponsive_after_events=0)
    )
    with pytest.raises(DeviceError, match="stopped answering") as caught:
        deployment.replay(stream, timeout_s=0.2)
    note = session.end_test("test_silent", caught.value)
    assert "soft reset" not in note.split(";")[-1]
    assert note.endswith("recovered by closing and re-opening the device (the device answered)")
    assert session.device is not device
    session.device.probe()
    session.close()


def test_probe_needs_an_answer(stream):
    with open_device("sim") as device:
        device.probe()
        deployment = device.deploy(scnn_34(), INPUT_SHAPE_34)
        device.probe(deployment)
        emulated_devices.emulated_devkit(device.info.serial).inject_faults(
            FaultPlan(unresponsive_after_events=0)
        )
        with pytest.raises(DeviceError, match="stopped answering"):
            device.probe(deployment, timeout_s=0.2)
    assert np.all(np.diff(stream["t"]) >= 0)
