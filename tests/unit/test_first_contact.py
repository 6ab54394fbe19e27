"""First contact with a board: where real samna is less kind than a happy-path emulation
(facts.md §8), each case as the emulated devkit now behaves and as the samna path survives it.

Boards without serials and a camera are set up by editing the emulated listing, so each test
states its case the same way on code that predates ``HIL_SIM_DEVKITS``' ``TYPE`` entries.
"""

import dataclasses
import threading

import numpy as np
import pytest
import torch
from test_backends import two_layer_net

import hil.emulator.samna as emulated_samna
from hil.analysis.checks import HilMeasure
from hil.backends import (
    REAL_QUIET_MS,
    DeviceError,
    DeviceUnavailable,
    list_devices,
    open_device,
    parse_device_spec,
)
from hil.backends import samna_backend as backend
from hil.backends.samna_backend import SamnaDevice
from hil.chip.profile import load_profile
from hil.emulator.samna import device as emulated_devices
from hil.lab.pool import BoardPool, named_board, pool_members
from hil.recordings import synthetic


@pytest.fixture(autouse=True)
def fresh_boards():
    emulated_devices.attach_emulated_devkits(emulated_devices.DEFAULT_DEVKITS)  # SIM0000
    yield
    emulated_devices.attach_emulated_devkits(emulated_devices.DEFAULT_DEVKITS)


@pytest.fixture
def stimulus() -> np.ndarray:
    return synthetic.poisson(20_000, 0.1, size=(16, 16), seed=5)


def serialless_devkits(n: int = 2, camera: bool = False) -> None:
    """``n`` Speck2fDevKits listed as sinabs' docs show them (``serial_number=``), and with
    ``camera`` a DVXplorer beside them, as samna lists every device on a host."""
    infos = emulated_devices.attach_emulated_devkits(["speck2fdevkit"] * n + ["speck2fmodule"])
    for info in infos[:n]:
        info.serial_number = ""
    infos[n].serial_number = "LAB0042"
    if camera:
        emulated_devices._attached.append(
            emulated_devices.DeviceInfo("DVXplorer", "", 1, len(infos) + 1, 0)
        )


# --- empty serials ----------------------------------------------------------------------------


def test_a_board_without_a_serial_is_named_by_usb_and_opens(tmp_path):
    serialless_devkits()
    board = named_board(parse_device_spec("sim:speck2fdevkit:0"))
    assert str(board) == "sim:speck2fdevkit@usb:1:1"
    assert named_board(parse_device_spec("sim:speck2fdevkit:1")).board_id == "usb:1:2"
    with open_device(str(board)) as speck:
        assert speck.info.serial == ""
        assert str(speck.info) == "speck2fdevkit@usb:1:1 (emulated)"
    specs = [listed.spec for listed in list_devices() if listed.kind == "emulated"]
    assert specs == [
        "sim:speck2fdevkit@usb:1:1",
        "sim:speck2fdevkit@usb:1:2",
        "sim:speck2fmodule@LAB0042",
    ]
    assert not any(spec.endswith("@") for spec in specs)


def test_each_board_without_a_serial_takes_its_own_lock(tmp_path):
    serialless_devkits()
    boards = pool_members(parse_device_spec("sim:speck2fdevkit:*"))
    assert [b.board_id for b in boards] == ["usb:1:1", "usb:1:2"]
    pool = BoardPool("sim:speck2fdevkit:*", boards, tmp_path)
    assert len({pool.lock_path(b) for b in boards}) == 2
    first, second = pool.try_lease(), pool.try_lease()
    assert {first.serial, second.serial} == {"usb:1:1", "usb:1:2"}
    assert pool.try_lease() is None
    with open_device(str(first.board)) as a, open_device(str(second.board)) as b:
        assert a._handle is not b._handle


# --- a camera on the same host ----------------------------------------------------------------


def test_a_camera_beside_the_boards_is_skipped_with_a_note():
    serialless_devkits(camera=True)
    assert len(pool_members(parse_device_spec("sim:speck2fdevkit:*"))) == 2
    (camera,) = [listed for listed in list_devices() if listed.kind == "other"]
    assert camera.spec == ""
    assert "DVXplorer" in camera.description and "not a Speck board" in camera.description


# --- events built with keywords ---------------------------------------------------------------


def test_replays_and_probes_build_every_event_field_by_field(monkeypatch, stimulus):
    """As if samna's Spike had only the empty constructor, as its other events have."""
    spike_init = emulated_samna.speck2f.event.Spike.__init__

    def empty_only(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError("__init__(): incompatible constructor arguments")
        spike_init(self)

    monkeypatch.setattr(emulated_samna.speck2f.event.Spike, "__init__", empty_only)
    with open_device("sim") as speck:
        speck.arrays = False  # the path a devkit takes
        deployment = speck.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        run = deployment.replay(stimulus)
        speck.probe()
    assert len(run.outputs) > 100


# --- apply_configuration is asynchronous ------------------------------------------------------


def slow_write(ms: float):
    """The shipped chip whose board takes ``ms`` to write any configuration."""
    base = load_profile("speck2f")
    return dataclasses.replace(
        base, devkit=dataclasses.replace(base.devkit, config_write_us=ms * 1e3)
    )


def test_inputs_wait_for_the_configuration_to_be_written(stimulus):
    """The harness re-applies the configuration before every replay; with a write that takes
    longer than the host needs to start writing inputs, the first inputs met a chip without
    the configuration. The barrier's time is kept in the run."""
    with open_device("sim") as speck:
        emulated_devices.emulated_devkit("SIM0000").use_profile(slow_write(0.0))
        instant = speck.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    with open_device("sim") as speck:
        emulated_devices.emulated_devkit("SIM0000").use_profile(slow_write(150.0))
        run = speck.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    assert len(instant.outputs) > 100
    np.testing.assert_array_equal(run.outputs, instant.outputs)
    assert run.config_write_s >= 0.15


def test_events_written_while_the_configuration_is_written_meet_the_old_one():
    from test_emulated_devkit import connect, identity_config, spike

    board = emulated_samna.device.open_device("Speck2fModuleDevKit:0")
    board.use_profile(slow_write(10_000.0))  # 10 s: never written while the test runs
    source, sink, _graphs = connect(board)
    board.get_model().apply_configuration(identity_config())
    source.write([spike(1, 1, 10)])
    assert sink.get_events() == []  # no configuration yet: nothing takes the input


# --- the reset is not a zero reset ------------------------------------------------------------


def test_a_network_run_in_sinabs_first_starts_from_zero_on_the_chip(stimulus):
    """sinabs' make_config copies v_mem into neurons_initial_value, which every re-apply
    restores (sinabs#148): deployed, they are zero, so the chip's runs equal a fresh net's."""
    net = two_layer_net()
    with torch.no_grad():
        net(torch.rand(1, 2, 16, 16) * 4)  # v_mem is no longer zero
    assert any(float(layer.v_mem.abs().sum()) > 0 for layer in (net[1], net[3]))
    with open_device("sim") as speck:
        deployment = speck.deploy(net, (2, 16, 16), monitor="all")
        for core in deployment.mapping.layer2core.values():
            assert not np.any(deployment.mapping.config.cnn_layers[core].neurons_initial_value)
        carried = deployment.replay(stimulus)
        fresh = speck.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    np.testing.assert_array_equal(carried.outputs, fresh.outputs)


# --- "quiet" counts every event ---------------------------------------------------------------


def test_the_readout_and_sensor_events_share_the_sink(monkeypatch):
    from test_emulated_devkit import applied, connect, identity_config, spike

    board = emulated_samna.device.open_device("Speck2fModuleDevKit:0")
    config = identity_config()
    config.readout.enable = True
    config.dvs_layer.pass_sensor_events = True
    config.dvs_layer.destinations[0].layer, config.dvs_layer.destinations[0].enable = 0, True
    config.cnn_layers[0].dimensions = {
        "input_shape": {"size": {"x": 4, "y": 4}, "feature_count": 2},
        "output_shape": {"size": {"x": 4, "y": 4}, "feature_count": 1},
        "kernel_size": 1,
    }
    config.cnn_layers[0].weights = [[[[1]], [[1]]]]
    applied(board, config)
    board.get_io_module().set_slow_clk_rate(1000)
    source, sink, _graphs = connect(board)
    source.write([spike(1, 1, 100, layer=13), spike(2, 2, 10_000, layer=13)])
    kinds = [type(event).__name__ for event in sink.get_events()]
    assert kinds.count("DvsEvent") == 2
    assert kinds.count("ReadoutValue") == 10  # one per ms of the slow clock
    assert kinds.count("Spike") == 2
    assert REAL_QUIET_MS >= 100  # sinabs polls every 100 ms


# --- open_device returning None; calls that never return ---------------------------------------


def test_open_device_returning_none_is_unavailable(monkeypatch):
    monkeypatch.setattr(emulated_samna.device, "open_device", lambda info: None)
    with pytest.raises(DeviceUnavailable, match="open_device gave nothing"):
        open_device("sim")


def test_a_close_that_never_returns_ends_in_a_device_error(monkeypatch):
    monkeypatch.setattr(backend, "CLOSE_TIMEOUT_S", 0.2)
    hung = threading.Event()
    speck = open_device("sim")
    monkeypatch.setattr(emulated_samna.device, "close_device", lambda handle: hung.wait(30))
    with pytest.raises(DeviceError, match=r"closing the board did not return within 0\.2 s"):
        speck.close()
    hung.set()


def test_a_blocking_read_that_never_returns_ends_in_a_device_error(monkeypatch):
    monkeypatch.setattr(backend, "BLOCKING_MARGIN_S", 0.1)
    device = SamnaDevice(
        emulated_samna,
        parse_device_spec("speck2fmodule"),
        load_profile("speck2f"),
        kind="real",
        samna_version="test",
        quiet_ms=5,
    )
    hung = threading.Event()
    monkeypatch.setattr(device._sink, "get_events_blocking", lambda ms: hung.wait(30))
    with pytest.raises(DeviceError, match="a blocking read did not return"):
        device.deploy(two_layer_net(), (2, 16, 16))
    hung.set()
    monkeypatch.undo()
    device.close()


# --- power -----------------------------------------------------------------------------------


def test_power_through_the_datasheets_names(monkeypatch, stimulus):
    """The datasheet's samna names the sink ``..._monitor`` and the call
    ``start_auto_power_monitor``; the sampler finds them."""
    sink = emulated_samna.BasicSinkNode_unifirm_modules_events_measurement
    monkeypatch.delattr(emulated_samna, "BasicSinkNode_unifirm_modules_events_measurement")
    monkeypatch.setattr(emulated_samna, "BasicSinkNode_unifirm_modules_events_monitor", sink, False)
    monitor = emulated_samna.power.PowerMonitor
    for new, old in (("start_auto_power_monitor", "start_auto_power_measurement"),
                     ("stop_auto_power_monitor", "stop_auto_power_measurement")):  # fmt: skip
        monkeypatch.setattr(monitor, new, getattr(monitor, old), raising=False)
        monkeypatch.delattr(monitor, old)
    with open_device("sim") as speck:
        run = speck.deploy(two_layer_net(), (2, 16, 16)).replay(stimulus)
    assert run.power is not None and len(run.power) > 0


def test_no_power_says_why(monkeypatch, stimulus):
    monkeypatch.delattr(emulated_samna, "BasicSinkNode_unifirm_modules_events_measurement")
    with open_device("sim") as speck:
        run = speck.deploy(two_layer_net(), (2, 16, 16)).replay(stimulus)
        assert "this samna has no power sink" in speck.power_problem
    measure = HilMeasure()
    measure.power(run)
    assert "no power sink" in measure.measurements[-1].note


def test_power_stamped_zero_by_old_firmware_is_flagged(monkeypatch, tmp_path, stimulus):
    profile = tmp_path / "old-firmware.toml"
    profile.write_text("[faults]\nzero_timestamps = true\n")
    monkeypatch.setenv("HIL_SIM_PROFILE", str(profile))
    with open_device("sim") as speck:
        run = speck.deploy(two_layer_net(), (2, 16, 16)).replay(stimulus)
        assert "stamped all" in speck.power_problem
    assert len(run.power) == 0  # never an energy from samples that cannot be placed in time
    measure = HilMeasure()
    measure.power(run, max_mw=10.0)
    assert measure.measurements[-1].failed


def test_emulated_power_is_the_devkits_measured_idle_with_offsets_and_noise(stimulus):
    with open_device("sim") as speck:
        run = speck.deploy(two_layer_net(), (2, 16, 16)).replay(stimulus)
    pixel_analog = run.power["watts"][run.power["rail"] == 4]
    total = np.bincount(np.unique(run.power["t"], return_inverse=True)[1], run.power["watts"])
    assert 1.1e-3 < np.median(total) < 1.3e-3  # sinabs' power_monitoring notebook: 1.17 mW
    assert pixel_analog.std() > 0  # the monitor is noisy


# --- the configuration has the datasheet's fields ---------------------------------------------


def test_a_config_modifier_setting_datasheet_fields_runs_on_the_emulated_devkit(stimulus):
    with open_device("sim") as speck:
        deployment = speck.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        config = deployment.mapping.config
        config.cnn_layers[0].leak_internal_slow_clk_enable = True
        config.dvs_filter.enable = True
        config.dvs_filter.hot_pixel_filter_enable = True
        config.dvs_filter.filter_size.x = 0
        config.dvs_filter.threshold = 5
        config.readout.readout_configuration_sel = 3
        config.readout.low_pass_filter_disable = True
        speck._model.apply_configuration(config)
