"""The emulated devkit's array extension of samna's buffers, and the backend's choice of path."""

import copy
import gc

import numpy as np
import pytest
from field_events import built
from test_backends import two_layer_net
from test_emulated_devkit import applied, connect, identity_config, spike

import hil.emulator.samna as samna
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices
from hil.events import SPIKE_DTYPE
from hil.recordings import synthetic


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def board():
    board = samna.device.open_device("Speck2fModuleDevKit:0")
    applied(board, identity_config())
    return board


def spikes(*xyt: tuple[int, int, int]) -> np.ndarray:
    array = np.zeros(len(xyt), SPIKE_DTYPE)
    array["x"], array["y"], array["t"] = np.array(xyt).T
    return array


def test_arrays_in_and_out(board):
    source, sink, _graphs = connect(board)
    written = spikes((1, 2, 10), (3, 0, 20))
    source.write_array(written)
    out, others = sink.get_array()
    assert out.dtype == SPIKE_DTYPE
    assert out[["layer", "x", "y", "feature"]].tolist() == [(0, 1, 2, 0), (0, 3, 0, 0)]
    assert others == []
    assert written["t"].tolist() == [10, 20]  # the host's array is left as it was


def test_arrays_and_objects_mix_in_order(board):
    source, sink, _graphs = connect(board)
    source.write_array(spikes((1, 1, 10)))
    source.write([spike(2, 2, 20), built(samna.speck2f.event.ReadNeuronValue, layer=0, address=0)])
    source.write_array(spikes((3, 3, 30)))
    out, others = sink.get_array()
    assert out["x"].tolist() == [1, 2, 3]
    assert [type(event).__name__ for event in others] == ["NeuronValue"]


def test_samna_reads_see_event_objects(board):
    """sinabs reads the sink with samna's own calls: arrays come out as Spike objects."""
    source, sink, _graphs = connect(board)
    source.write_array(spikes((1, 2, 10), (3, 0, 20), (2, 2, 30)))
    first = sink.get_n_events(2, 1000)
    assert [type(e).__name__ for e in first] == ["Spike", "Spike"]
    assert [(e.x, e.y) for e in first] == [(1, 2), (3, 0)]
    assert [(e.x, e.y) for e in sink.get_events()] == [(2, 2)]


def test_write_array_refuses_other_dtypes(board):
    source, _sink, _graphs = connect(board)
    with pytest.raises(TypeError, match="SPIKE_DTYPE"):
        source.write_array(np.zeros(3, np.int64))


def test_spike_objects_coerce_fields_and_default_to_zero():
    event = built(samna.speck2f.event.Spike, x=np.uint16(3), timestamp=np.int64(7))
    assert (event.layer, event.x, event.y, event.feature, event.timestamp) == (0, 3, 0, 0, 7)
    assert type(event.x) is int
    with pytest.raises(TypeError):
        samna.speck2f.event.Spike(z=1)
    with pytest.raises(TypeError, match=r"Spike\.x"):
        built(samna.speck2f.event.Spike, x=1.5)


# --- the backend's two paths --------------------------------------------------------------


@pytest.fixture
def stimulus() -> np.ndarray:
    return synthetic.poisson(20_000, 0.2, size=(16, 16), seed=1)


def test_the_emulated_devkit_takes_objects_by_default_and_arrays_give_the_same_run(
    monkeypatch, stimulus
):
    with open_device("sim") as device:
        assert not device.arrays  # the path a devkit takes
    monkeypatch.setenv("HIL_SIM_ARRAYS", "1")
    with open_device("sim") as device:
        assert device.arrays
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        by_arrays = deployment.replay(stimulus)
        device.arrays = False  # as a real devkit is driven
        by_objects = deployment.replay(stimulus)
    assert len(by_arrays.outputs) > 1000
    np.testing.assert_array_equal(by_arrays.outputs, by_objects.outputs)


class ObjectsOnly:
    """A buffer as real samna has it: the same calls, no array extension."""

    def __init__(self, buffer):
        self._buffer = buffer

    def __getattr__(self, name):
        if name in ("write_array", "get_array"):
            raise AttributeError(name)
        return getattr(self._buffer, name)


def test_buffers_without_arrays_get_objects(monkeypatch, stimulus):
    for name in (
        "BasicSourceNode_speck2f_event_input_event",
        "BasicSinkNode_speck2f_event_output_event",
    ):
        buffer_type = getattr(samna, name)
        monkeypatch.setattr(samna, name, lambda buffer_type=buffer_type: ObjectsOnly(buffer_type()))
    monkeypatch.setattr(samna.graph.EventFilterGraph, "sequential", _unwrapping_sequential)
    monkeypatch.setenv("HIL_SIM_ARRAYS", "1")
    with open_device("sim") as device:
        assert not device.arrays
        run = device.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    assert len(run.outputs) > 1000


def _unwrapping_sequential(self, nodes):
    self.stop()
    self.nodes = [getattr(node, "_buffer", node) for node in nodes]
    return self.nodes


@pytest.mark.parametrize("arrays", [True, False])
def test_the_collector_is_paused_across_the_host_side_of_a_replay(monkeypatch, stimulus, arrays):
    seen = []
    with open_device("sim") as device:
        device.arrays = arrays
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        sink = device._sink
        for name in ("get_array", "get_events", "get_events_blocking"):
            read = getattr(sink, name)

            def watched(*args, read=read):
                seen.append(gc.isenabled())
                return read(*args)

            monkeypatch.setattr(sink, name, watched)
        assert gc.isenabled()
        deployment.replay(stimulus)
        assert gc.isenabled()
    assert len(seen) >= 3
    assert not any(seen)


def test_a_configuration_copy_is_equal_and_independent():
    config = identity_config()
    twin = copy.deepcopy(config)
    assert twin == config and twin is not config
    assert twin.cnn_layers[0] is not config.cnn_layers[0]
    twin.cnn_layers[0].weights = [[[[3]]]]
    twin.cnn_layers[0].destinations[0].enable = True
    assert config.cnn_layers[0].weights == [[[[1]]]]
    assert not config.cnn_layers[0].destinations[0].enable
    assert twin != config
