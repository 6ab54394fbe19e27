import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil import recordings
from hil.backends import (
    DeployError,
    DeviceError,
    DeviceSpecError,
    DeviceUnavailable,
    open_device,
)
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.events import EventError
from hil.recordings import synthetic


def two_layer_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 8, 3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        nn.Conv2d(8, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.5)
        net[2].weight.uniform_(0.0, 0.3)
    return net


@pytest.fixture(autouse=True)
def fresh_emulated_devkits():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def stimulus() -> np.ndarray:
    return synthetic.poisson(20_000, 0.2, size=(16, 16), seed=1)


@pytest.fixture
def sim():
    with open_device("sim") as device:
        yield device


def test_sim_replay_gives_a_run(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    assert deployment.mapping.monitored_cores == tuple(
        sorted(deployment.mapping.layer2core.values())
    )
    run = deployment.replay(stimulus)
    assert len(run.inputs) == len(stimulus)
    assert (run.inputs["layer"] == deployment.mapping.entry_core).all()
    np.testing.assert_array_equal(run.inputs["t"], stimulus["t"])
    assert len(run.outputs) > 100
    assert set(np.unique(run.outputs["layer"])) <= set(deployment.mapping.monitored_cores)
    assert (np.diff(run.outputs["t"]) >= 0).all()
    assert run.outputs["t"].min() >= stimulus["t"].min()
    assert run.wall_s > 0
    assert sim.info.kind == "emulated"
    assert sim.info.samna_version == "emulated"


def test_replays_are_reproducible_and_reset_is_optional(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 16, 16))
    first = deployment.replay(stimulus)
    second = deployment.replay(stimulus)
    np.testing.assert_array_equal(first.outputs, second.outputs)
    continued = deployment.replay(stimulus, reset=False)
    assert not np.array_equal(continued.outputs, first.outputs)


def test_replay_accepts_recordings(sim):
    deployment = sim.deploy(two_layer_net(), (2, 34, 34))
    run = deployment.replay(recordings.by_name("poisson_34"))
    assert run.source == "poisson_34"
    assert len(run.outputs) > 0


def test_events_outside_the_network_input_are_refused(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 8, 8))
    with pytest.raises(EventError, match=r"'x' at index \d+ is \d+, outside the network input"):
        deployment.replay(stimulus)


def test_barrier_waits_for_nothing_when_the_device_is_quiet(sim, stimulus, monkeypatch):
    import time

    deployment = sim.deploy(two_layer_net(), (2, 16, 16))
    sleeps = []
    monkeypatch.setattr(time, "sleep", lambda s: sleeps.append(s))
    run = deployment.replay(stimulus, timeout_s=30)
    assert sleeps == []
    assert run.wall_s < 30


def test_config_hash_skips_reapplying_an_unchanged_configuration(sim, monkeypatch):
    model = emulated_devices.emulated_devkit("SIM0000").model
    applied = []
    original = model.apply_configuration
    monkeypatch.setattr(
        model, "apply_configuration", lambda cfg: (applied.append(1), original(cfg))
    )
    net = two_layer_net()
    first = sim.deploy(net, (2, 16, 16))
    sim.deploy(net, (2, 16, 16))
    assert len(applied) == 1
    sim.deploy(net, (2, 16, 16), reset="zero")
    assert len(applied) == 2
    first.reset()
    assert len(applied) == 3


def test_reset_mode_reaches_the_configuration(sim):
    for reset, expected in (("subtract", False), ("zero", True)):
        mapping = sim.deploy(two_layer_net(), (2, 16, 16), reset=reset).mapping
        assert {
            mapping.config.cnn_layers[c].return_to_zero for c in mapping.layer2core.values()
        } == {expected}
    with pytest.raises(ValueError, match="reset must be None or one of"):
        sim.deploy(two_layer_net(), (2, 16, 16), reset="leaky")


def test_decimator_option(sim, stimulus):
    plain = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    decimated = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all", decimators={0: 0})
    run = decimated.replay(stimulus)
    core = decimated.mapping.core_of(0)
    assert decimated.mapping.config.cnn_layers[core].output_decimator_enable
    assert len(run.outputs_of(core)) == len(plain.outputs_of(core)) // 2
    with pytest.raises(DeployError, match="interval code 9"):
        sim.deploy(two_layer_net(), (2, 16, 16), decimators={0: 9})
    with pytest.raises(DeployError, match="layer 7: no such layer"):
        sim.deploy(two_layer_net(), (2, 16, 16), decimators={7: 1})


# --- undeployable networks are refused before the device is touched -----------------------


def _untouched(sim) -> bool:
    return emulated_devices.emulated_devkit("SIM0000").model._speck is None


def test_nan_weight_names_the_layer(sim):
    net = two_layer_net()
    with torch.no_grad():
        net[2].weight[0, 0, 0, 0] = float("nan")
    message = r"layer '2' \(Conv2d\): weight\[0, 0, 0, 0\] is nan, and 1 value\(s\)"
    with pytest.raises(DeployError, match=message):
        sim.deploy(net, (2, 16, 16))
    assert _untouched(sim)


def test_layer_too_big_for_any_core_names_layer_and_limit(sim):
    net = nn.Sequential(
        nn.Conv2d(2, 64, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
    )
    with pytest.raises(DeployError) as info:
        sim.deploy(net, (2, 64, 64))
    assert info.value.layer == 0
    assert "layer 0" in str(info.value)
    assert "neuron memory" in str(info.value)
    assert _untouched(sim)


def test_unknown_monitor_layer(sim):
    with pytest.raises(DeployError, match="cannot monitor layer 5"):
        sim.deploy(two_layer_net(), (2, 16, 16), monitor=[5])


def test_unconvertible_network(sim):
    net = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid())
    with pytest.raises(DeployError, match=r"layer 1 \(Sigmoid\) is a non-spiking activation"):
        sim.deploy(net, (1, 2, 2))


# --- device failures ----------------------------------------------------------------------


def test_disconnect_mid_replay_keeps_partial_outputs(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    complete = deployment.replay(stimulus)
    deployment.reset()
    board = emulated_devices.emulated_devkit("SIM0000")
    board.inject_faults(FaultPlan(disconnect_after_events=len(stimulus) // 2 + 100))
    with pytest.raises(DeviceError) as info:
        deployment.replay(stimulus, reset=False)
    error = info.value
    assert "Speck2fModule" in str(error) or "speck2fmodule@SIM0000" in str(error)
    assert "disconnected" in str(error)
    assert error.partial is not None
    assert len(error.partial.inputs) == len(stimulus)
    assert 0 < len(error.partial.outputs) < len(complete.outputs)


def test_unresponsive_device_times_out_with_partial_outputs(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    board = emulated_devices.emulated_devkit("SIM0000")
    board.inject_faults(FaultPlan(unresponsive_after_events=len(stimulus) // 2))
    with pytest.raises(DeviceError, match="stopped answering") as info:
        deployment.replay(stimulus, timeout_s=0.2, reset=False)
    assert len(info.value.partial.outputs) > 0


def test_dropped_events_lose_outputs(sim, stimulus):
    deployment = sim.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    complete = deployment.replay(stimulus)
    emulated_devices.emulated_devkit("SIM0000").inject_faults(
        FaultPlan(drop_probability=0.5, seed=3)
    )
    lossy = deployment.replay(stimulus)
    assert len(lossy.outputs) < 0.8 * len(complete.outputs)


# --- opening devices ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["sim", "sim:speck2fmodule", "sim:speck2fmodule:0", "sim:speck2fmodule@SIM0000"]
)
def test_sim_specs_open_the_emulated_board(spec):
    with open_device(spec) as device:
        assert device.info.serial == "SIM0000"
        assert device.info.device_type == "speck2fmodule"
        assert "speck2f.toml" in device.info.profile


def test_several_emulated_boards_by_index_and_serial():
    emulated_devices.attach_emulated_devkits(
        ["speck2fmodule@SIM0000", "speck2edevkit@SIM0001", "speck2fmodule@SIM0002"]
    )
    with open_device("sim:speck2fmodule:1") as second, open_device("sim:speck2edevkit") as other:
        assert second.info.serial == "SIM0002"
        assert other.info.serial == "SIM0001"
        assert other.profile.name == "speck2e"
    with open_device("sim:speck2fmodule@SIM0002") as by_serial:
        assert by_serial.info.serial == "SIM0002"


def test_missing_emulated_board_lists_what_is_attached():
    with pytest.raises(
        DeviceUnavailable,
        match=r"no Speck2eDevKit number 0 \(attached: Speck2fModuleDevKit@SIM0000\)",
    ):
        open_device("sim:speck2edevkit")
    with pytest.raises(DeviceUnavailable, match="no Speck2fModuleDevKit with serial NOPE"):
        open_device("sim:speck2fmodule@NOPE")


def test_a_device_has_one_owner():
    with open_device("sim"), pytest.raises(DeviceUnavailable, match="already open"):
        open_device("sim:speck2fmodule@SIM0000")
    with open_device("sim") as again:
        assert again.info.serial == "SIM0000"


def test_real_devkit_needs_real_samna():
    with pytest.raises(DeviceUnavailable) as info:
        open_device("speck2fmodule")
    assert "placeholder" in str(info.value) or "not installed" in str(info.value)
    with pytest.raises(DeviceUnavailable):
        open_device("specksim")


def test_unknown_spec():
    with pytest.raises(DeviceSpecError, match="unknown device 'speck9'"):
        open_device("speck9")


def test_profile_override(tmp_path):
    override = tmp_path / "lab.toml"
    override.write_text("[timing]\nsynops_per_s = [1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 1e6]\n")
    with open_device("sim", profile=override) as device:
        assert device.profile.synops_per_s[0] == 1e6
        assert "lab.toml" in device.info.profile


# --- the sinabs backend -------------------------------------------------------------------


def test_sinabs_backend_returns_the_same_kind_of_run(stimulus):
    with open_device("sinabs") as device:
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        run = deployment.replay(stimulus)
    assert device.info.kind == "sinabs"
    assert len(run.outputs) > 0
    assert set(np.unique(run.outputs["layer"])) <= set(deployment.mapping.monitored_cores)
    assert ((run.outputs["t"] - stimulus["t"][0]) % 1000 == 0).all()


def test_sinabs_backend_refuses_decimators():
    with open_device("sinabs") as device, pytest.raises(DeployError, match="decimator"):
        device.deploy(two_layer_net(), (2, 16, 16), decimators={0: 1})


def test_slow_clock_option_reaches_the_board(sim):
    sim.deploy(two_layer_net(), (2, 16, 16), slow_clk_hz=250)
    board = emulated_devices.emulated_devkit("SIM0000")
    io = board.get_io_module()
    assert io.slow_clk_enabled
    assert io.slow_clk_hz == 250


def test_replaying_an_earlier_deployment_loads_it_again(sim, stimulus):
    first = sim.deploy(two_layer_net(seed=0), (2, 16, 16), monitor="all")
    alone = first.replay(stimulus)
    sim.deploy(two_layer_net(seed=1), (2, 16, 16), monitor="all").replay(stimulus)
    again = first.replay(stimulus, reset=False)
    np.testing.assert_array_equal(again.outputs, alone.outputs)
