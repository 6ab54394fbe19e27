"""The samna-compatible configuration and events accept what sinabs assigns, and refuse what
would be silently mangled."""

import copy

import numpy as np
import pytest
import torch
from field_events import built

from hil.emulator.samna import speck2e, speck2f
from hil.emulator.samna.speck2f.configuration import SpeckConfiguration
from hil.emulator.samna.speck2f.event import (
    DvsEvent,
    NeuronValue,
    ReadNeuronValue,
    Spike,
    WriteNeuronValue,
)
from hil.emulator.samna.specksim import events as specksim_events
from hil.emulator.samna.specksim import nodes as specksim_nodes


def test_defaults_are_a_chip_after_reset():
    cfg = SpeckConfiguration()
    assert len(cfg.cnn_layers) == 9
    for layer in cfg.cnn_layers:
        assert layer.dimensions.input_shape.feature_count == 0
        assert layer.weights == []
        assert layer.return_to_zero is False
        assert layer.monitor_enable is False
        assert layer.threshold_low != 0
        assert layer.input_congestion_balancer_enable is False
        assert layer.output_decimator_enable is False
        assert [(d.enable, d.pooling) for d in layer.destinations] == [(False, 1), (False, 1)]
    assert cfg.dvs_layer.pass_sensor_events is True
    assert cfg.dvs_layer.monitor_enable is False
    assert (cfg.dvs_layer.cut.x, cfg.dvs_layer.cut.y) == (127, 127)
    assert not any(d.enable for d in cfg.dvs_layer.destinations)
    assert cfg.readout.monitor_enable is False


def test_dimensions_from_nested_dicts_of_tensors_and_numpy_ints():
    layer = SpeckConfiguration().cnn_layers[4]
    layer.dimensions = {
        "input_shape": {"size": {"x": np.int64(34), "y": torch.tensor(30)}, "feature_count": 2},
        "output_shape": {"size": {"x": 32, "y": 28}, "feature_count": torch.tensor(4)},
        "padding": {"x": 0, "y": 0},
        "stride": {"x": 1, "y": 1},
        "kernel_size": np.int32(3),
    }
    dims = layer.dimensions
    assert (dims.input_shape.size.x, dims.input_shape.size.y) == (34, 30)
    assert dims.output_shape.feature_count == 4
    assert type(dims.output_shape.feature_count) is int
    assert dims.kernel_size == 3


def test_a_partial_dict_leaves_the_rest_at_defaults():
    layer = SpeckConfiguration().cnn_layers[0]
    layer.dimensions = {"kernel_size": 5}
    assert (layer.dimensions.stride.x, layer.dimensions.stride.y) == (1, 1)


def test_destinations_as_list_of_dicts_and_item_assignment_sticks():
    layer = SpeckConfiguration().cnn_layers[0]
    layer.destinations = [{"layer": 3, "enable": True, "pooling": 2}]
    assert (layer.destinations[0].layer, layer.destinations[0].pooling) == (3, 2)
    assert layer.destinations[1].enable is False
    layer.destinations[1].layer = torch.tensor(5)
    layer.destinations[1].enable = torch.tensor(True)
    assert (layer.destinations[1].layer, layer.destinations[1].enable) == (5, True)
    with pytest.raises(TypeError):
        layer.destinations = [{}, {}, {}]


@pytest.mark.parametrize(
    "weights",
    [
        torch.arange(24).reshape(2, 3, 2, 2),
        np.arange(24).reshape(2, 3, 2, 2),
        np.arange(24).reshape(2, 3, 2, 2).tolist(),
        [
            [[[torch.tensor(int(v)) for v in row] for row in kernel] for kernel in out]
            for out in np.arange(24).reshape(2, 3, 2, 2).tolist()
        ],
        torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2),
    ],
    ids=["tensor", "ndarray", "lists", "lists-of-0d-tensors", "whole-floats"],
)
def test_weights_accept_tensors_arrays_and_lists(weights):
    layer = SpeckConfiguration().cnn_layers[0]
    layer.weights = weights
    assert layer.weights == np.arange(24).reshape(2, 3, 2, 2).tolist()


def test_array_reads_are_copies():
    layer = SpeckConfiguration().cnn_layers[0]
    layer.biases = [1, 2]
    layer.biases[0] = 99
    assert layer.biases == [1, 2]


def test_sinabs_style_scalars():
    layer = SpeckConfiguration().cnn_layers[0]
    layer.leak_enable = torch.tensor([0, 1]).bool().any()
    layer.threshold_high = torch.tensor(552)
    layer.return_to_zero = np.bool_(True)
    assert (layer.leak_enable, layer.threshold_high, layer.return_to_zero) == (True, 552, True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold_high", 1.5),
        ("threshold_high", "10"),
        ("leak_enable", "False"),
        ("threshold_low", torch.tensor([1, 2])),
        ("weights", [[[[0.5]]]]),
        ("weights", [[1, 2], [3]]),
        ("weights", [1, 2, 3]),
        ("neurons_initial_value", [[1]]),
    ],
)
def test_values_that_would_be_mangled_are_refused(field, value):
    layer = SpeckConfiguration().cnn_layers[0]
    with pytest.raises(TypeError, match=field):
        setattr(layer, field, value)


def test_unknown_fields_are_refused():
    cfg = SpeckConfiguration()
    with pytest.raises(AttributeError, match="threshold_hihg"):
        cfg.cnn_layers[0].threshold_hihg = 5
    with pytest.raises(TypeError, match="kernel_sise"):
        cfg.cnn_layers[0].dimensions = {"kernel_sise": 3}


def test_dvs_layer_fields_as_sinabs_writes_them():
    dvs = SpeckConfiguration().dvs_layer
    dvs.mirror = {"x": True, "y": False}
    dvs.cut = {"x": 63, "y": 31}
    dvs.pooling = {"y": 2, "x": 4}
    dvs.merge = True
    assert (dvs.mirror.x, dvs.cut.y, dvs.pooling.x, dvs.merge) == (True, 31, 4, True)


def test_deepcopy_and_equality():
    cfg = SpeckConfiguration()
    cfg.cnn_layers[2].weights = np.ones((1, 1, 3, 3))
    clone = copy.deepcopy(cfg)
    assert clone == cfg
    clone.cnn_layers[2].weights = np.zeros((1, 1, 3, 3))
    assert clone != cfg
    assert cfg.cnn_layers[2].weights[0][0][0] == [1, 1, 1]


def test_chips_have_distinct_configuration_types_and_shared_events():
    assert speck2e.configuration.SpeckConfiguration is not SpeckConfiguration
    assert speck2e.event.Spike is speck2f.event.Spike
    assert SpeckConfiguration().DVSLayerConfig is type(SpeckConfiguration().dvs_layer)


def test_spike_fields_take_tensors_and_default_to_zero():
    spike = Spike()
    spike.layer, spike.x = 3, torch.tensor(4)
    spike.y = np.uint16(5)
    spike.feature = torch.tensor(1)
    assert (spike.layer, spike.x, spike.y, spike.feature, spike.timestamp) == (3, 4, 5, 1, 0)
    assert type(spike.x) is int
    assert built(Spike, layer=1, x=2) == built(Spike, x=2, layer=1)
    # keywords too, as sinabs' own tests build speck2e and speck2f Spikes against real samna
    assert Spike(layer=1, x=2) == built(Spike, layer=1, x=2) == Spike(1, 2)
    with pytest.raises(AttributeError):
        spike.channel = 1


@pytest.mark.parametrize("event_type", [DvsEvent, ReadNeuronValue, WriteNeuronValue])
def test_events_refuse_construction_with_fields_as_samna_documents_none(event_type):
    """Public Speck code builds every event empty, then assigns: a harness that builds them
    with keywords (or positions) must fail on the emulated devkit, not on the first board."""
    field = event_type._fields[0]
    with pytest.raises(TypeError, match="build it empty and set its fields"):
        event_type(**{field: 1})
    with pytest.raises(TypeError, match="build it empty"):
        event_type(1)


def test_other_events():
    assert (built(DvsEvent, x=1, y=2, p=True).p, DvsEvent().timestamp) == (1, 0)
    assert built(ReadNeuronValue, layer=2, address=7).address == 7
    write = WriteNeuronValue()
    write.neuron_state = torch.tensor(-300)
    assert write.neuron_state == -300
    assert NeuronValue.of(1, 2, -5, 9).neuron_state == -5


def test_specksim_names_exist_but_refuse_to_simulate():
    spike = specksim_events.Spike(1, 2, 3, 4)  # sinabs: Spike(p, y, x, t)
    assert (spike.feature, spike.y, spike.x, spike.timestamp) == (1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="real samna"):
        specksim_nodes.SpecksimIAFFilterNode()
