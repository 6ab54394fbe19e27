"""The emulated devkit through samna's own API, as sinabs and lab scripts use it."""

import numpy as np
import pytest
import sinabs
import sinabs.layers as sl
import torch
from fake_wall import fake_wall_clock  # noqa: F401 (the wall fixture)
from field_events import built
from torch import nn

import hil.emulator.samna as samna
from hil.emulator.devkit import neuron_index
from hil.emulator.install import install_as_samna
from hil.emulator.samna import device as emulated_devices


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


def identity_config():
    """One core, 1x1 kernel of weight 1, threshold 1: one output spike per input spike."""
    config = samna.speck2f.configuration.SpeckConfiguration()
    core = config.cnn_layers[0]
    core.dimensions = {
        "input_shape": {"size": {"x": 4, "y": 4}, "feature_count": 1},
        "output_shape": {"size": {"x": 4, "y": 4}, "feature_count": 1},
        "kernel_size": 1,
    }
    core.weights = [[[[1]]]]
    core.biases = [0]
    core.neurons_initial_value = np.zeros((1, 4, 4), dtype=int).tolist()
    core.threshold_high = 1
    core.threshold_low = -1
    core.monitor_enable = True
    return config


def applied(board, config):
    """Apply ``config`` and wait until the board has written it (``apply_configuration``
    returns before, as samna's does)."""
    board.get_model().apply_configuration(config)
    board.get_model().wait_written()


def connect(board):
    source = samna.BasicSourceNode_speck2f_event_input_event()
    sink = samna.BasicSinkNode_speck2f_event_output_event()
    model = board.get_model()
    graphs = [samna.graph.EventFilterGraph(), samna.graph.EventFilterGraph()]
    graphs[0].sequential([source, model.get_sink_node()])
    graphs[1].sequential([model.get_source_node(), sink])
    for graph in graphs:
        graph.start()
    return source, sink, graphs


def spike(x, y, t, layer=0, feature=0):
    return built(samna.speck2f.event.Spike, layer=layer, x=x, y=y, feature=feature, timestamp=t)


def test_listing_and_opening():
    listed = samna.device.get_all_devices()
    assert [d.device_type_name for d in listed] == ["Speck2fModuleDevKit"]
    board = samna.device.open_device(listed[0])
    assert samna.device.open_device("Speck2fModuleDevKit:0") is board
    assert samna.device.get_unopened_devices() == []
    samna.device.close_device(board)
    assert len(samna.device.get_unopened_devices()) == 1
    with pytest.raises(RuntimeError, match="no device"):
        samna.device.open_device("Speck2eDevKit:0")


def test_boards_from_the_environment(monkeypatch):
    monkeypatch.setenv(emulated_devices.SIM_DEVKITS_ENV, "speck2edevkit, speck2fmodule@LAB7")
    monkeypatch.setattr(emulated_devices, "_attached", None)
    listed = samna.device.get_all_devices()
    assert [d.device_type_name for d in listed] == ["Speck2eDevKit", "Speck2fModuleDevKit"]
    with pytest.raises(ValueError, match="unknown device 'speck3'"):
        emulated_devices.attach_emulated_devkits(["speck3"])


def test_a_bare_type_is_a_board_without_a_serial_and_other_samna_devices_are_listed(monkeypatch):
    """As sinabs' docs list a Speck2fDevKit (``serial_number=``, logic version 0), and as samna
    lists every device on a host; the camera cannot be opened as a board."""
    monkeypatch.setenv(
        emulated_devices.SIM_DEVKITS_ENV, "speck2fdevkit,speck2fdevkit,speck2fmodule@LAB7,dvxplorer"
    )
    monkeypatch.setattr(emulated_devices, "_attached", None)
    listed = samna.device.get_all_devices()
    assert [(d.device_type_name, d.serial_number, d.logic_version) for d in listed] == [
        ("Speck2fDevKit", "", 0),
        ("Speck2fDevKit", "", 0),
        ("Speck2fModuleDevKit", "LAB7", 0),
        ("DVXplorer", "", 0),
    ]
    assert len({(d.usb_bus_number, d.usb_device_address) for d in listed}) == 4
    first, second = (samna.device.open_device(info) for info in listed[:2])
    assert first is not second
    assert samna.device.open_device("Speck2fDevKit:1") is second
    with pytest.raises(RuntimeError, match="not a Speck board"):
        samna.device.open_device(listed[3])
    for bad in ("speck2fdevkit@", "dvxplorer@X", "camera"):
        monkeypatch.setenv(emulated_devices.SIM_DEVKITS_ENV, bad)
        with pytest.raises(ValueError, match="HIL_SIM_DEVKITS"):
            emulated_devices.configured_devkits()


def test_events_flow_only_through_running_graphs():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    applied(board, identity_config())
    source, sink, graphs = connect(board)
    source.write([spike(1, 2, 10), spike(3, 0, 20)])
    out = sink.get_events()
    assert [(e.layer, e.x, e.y, e.feature) for e in out] == [(0, 1, 2, 0), (0, 3, 0, 0)]
    assert all(e.timestamp >= 10 for e in out)
    for graph in graphs:
        graph.stop()
    source.write([spike(1, 1, 30)])
    assert sink.get_events() == []


def test_stop_watch_reset_restarts_timestamps_but_keeps_states():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    config = identity_config()
    config.cnn_layers[0].threshold_high = 2
    applied(board, config)
    source, sink, _graphs = connect(board)
    source.write([spike(0, 0, 5_000)])
    board.get_stop_watch().reset()
    source.write([spike(0, 0, 10)])
    (out,) = sink.get_events()
    assert out.timestamp < 100


def test_blocking_reads_return_at_once_when_events_are_there():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    applied(board, identity_config())
    source, sink, _graphs = connect(board)
    source.write([spike(0, 0, 1), spike(1, 0, 2), spike(2, 0, 3)])
    assert len(sink.get_n_events(2, 10_000)) == 2
    assert len(sink.get_events_blocking(10_000)) == 1
    source.write([spike(0, 0, 4)])
    sink.clear_events()
    assert sink.get_events_blocking(1) == []


def test_neuron_read_and_write():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    config = identity_config()
    config.cnn_layers[0].threshold_high = 100
    applied(board, config)
    source, sink, _graphs = connect(board)
    source.write([spike(3, 1, 1), spike(3, 1, 2)])
    address = (1 << 2) | (3 << 0)  # y=1 above 2 x-bits, x=3, 0 feature bits
    source.write([built(samna.speck2f.event.ReadNeuronValue, layer=0, address=address)])
    (reply,) = sink.get_events()
    assert reply.neuron_state == 2
    source.write(
        [
            built(samna.speck2f.event.WriteNeuronValue, layer=0, address=address, neuron_state=-5),
            built(samna.speck2f.event.ReadNeuronValue, layer=0, address=address),
        ]
    )
    assert sink.get_events()[0].neuron_state == -5


def test_neuron_address_layout():
    assert neuron_index((1 << 3) | (2 << 1) | 1, (2, 4, 4), core=0) == (1, 1, 2)
    with pytest.raises(ValueError, match="core 3: neuron address"):
        neuron_index(1 << 10, (2, 4, 4), core=3)


def test_illegal_configuration_is_refused():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    config = identity_config()
    config.cnn_layers[0].threshold_low = 0
    with pytest.raises(ValueError, match="core 0"):
        board.get_model().apply_configuration(config)


def test_soft_reset_restores_the_default_configuration():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    applied(board, identity_config())
    board.reset_board_soft(True)
    assert board.get_model().get_configuration() == samna.speck2f.configuration.SpeckConfiguration()


def test_sinabs_drives_the_emulated_devkit():
    """sinabs' own deployment path, unchanged: from_model, DynapcnnNetwork, .to(), forward."""
    assert install_as_samna()
    from sinabs.backend.dynapcnn import DynapcnnNetwork
    from sinabs.backend.dynapcnn.chip_factory import ChipFactory

    ann = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        ann[0].weight.fill_(1.0)
    snn = sinabs.from_model(ann, batch_size=1, spike_threshold=1.0, min_v_mem=-1.0).spiking_model
    assert isinstance(snn[1], sl.IAFSqueeze)
    network = DynapcnnNetwork(snn, input_shape=(1, 8, 8), discretize=True)
    network.to("speck2fmodule:0")
    raster = torch.zeros(20, 1, 8, 8)
    for step in range(20):
        raster[step, 0, step % 8, (3 * step) % 8] = 1
    events = ChipFactory("speck2fmodule").raster_to_events(
        raster, layer=network.layer2core_map[0], dt=1e-5
    )
    outputs = network(events)
    assert len(events) == 20
    assert len(outputs) == len(events)
    assert [(e.x, e.y) for e in outputs] == [(e.x, e.y) for e in events]


@pytest.mark.parametrize(("rate_hz", "expected"), [(1000, 1 + 10), (100, 1 + 1)])
def test_io_module_sets_the_leak_clock(rate_hz, expected, wall):
    """(The wall clock stands still: the ticks come from the events' time alone.)"""
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    config = identity_config()
    config.cnn_layers[0].threshold_high = 100
    config.cnn_layers[0].leak_enable = True
    config.cnn_layers[0].biases = [1]
    applied(board, config)
    io = board.get_io_module()
    io.set_slow_clk(True)
    io.set_slow_clk_rate(rate_hz)
    source, sink, _graphs = connect(board)
    source.write(
        [spike(0, 0, 10_000), built(samna.speck2f.event.ReadNeuronValue, layer=0, address=0)]
    )
    (reply,) = sink.get_events()
    assert reply.neuron_state == expected
