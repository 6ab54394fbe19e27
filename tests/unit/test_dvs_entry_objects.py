"""The object path (how a real devkit is driven): sensor events enter the DVS layer as
samna's ``DvsEvent``, never as a ``Spike`` addressed to layer 13; a core's input stays a
``Spike`` for that core. Both give the run the array path gives."""

from __future__ import annotations

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil.backends import open_device
from hil.emulator.program import DVS_LAYER
from hil.recordings import synthetic


def dvs_first() -> nn.Sequential:
    """A network that takes its input through the DVS layer (sinabs' ``DVSLayer`` first)."""
    from hil.emulator.install import install_as_samna

    install_as_samna()
    from sinabs.backend.dynapcnn.dvs_layer import DVSLayer

    return nn.Sequential(DVSLayer(input_shape=(16, 16)), *conv_first())


def conv_first() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        net[0].weight.uniform_(0.2, 0.6)
    return net


@pytest.fixture
def written(monkeypatch):
    """Every event object the backend writes to the chip's input buffer."""
    from hil.emulator.samna import BasicSourceNode_speck2f_event_input_event as Source

    events: list = []
    original = Source.write

    def spy(self, batch):
        if not isinstance(batch, np.ndarray):
            events.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(Source, "write", spy)
    return events


@pytest.mark.parametrize(("build", "entry_kind"), [(dvs_first, "DvsEvent"), (conv_first, "Spike")])
def test_objects_enter_as_samna_takes_them(build, entry_kind, written):
    stimulus = synthetic.poisson(20_000, 0.1, size=(16, 16), seed=1)
    with open_device("sim") as device:
        deployment = device.deploy(build(), (2, 16, 16), monitor="all")
        assert (deployment.mapping.entry_core == DVS_LAYER) == (entry_kind == "DvsEvent")
        device.arrays = True  # the emulated devkit's fast path
        by_arrays = deployment.replay(stimulus)
        assert {type(event).__name__ for event in written} == {"ReadNeuronValue"}  # arrays
        written.clear()
        device.arrays = False  # as a real devkit is driven (the default)
        by_objects = deployment.replay(stimulus)
    inputs = [event for event in written if type(event).__name__ != "ReadNeuronValue"]
    assert len(inputs) == len(stimulus)
    assert {type(event).__name__ for event in inputs} == {entry_kind}
    if entry_kind == "Spike":
        assert {event.layer for event in inputs} == {deployment.mapping.entry_core}
    else:
        first = inputs[0]
        assert (first.x, first.y, int(first.p), first.timestamp) == tuple(
            int(stimulus[0][name]) for name in ("x", "y", "p", "t")
        )
    assert len(by_arrays.outputs) > 100
    np.testing.assert_array_equal(by_arrays.outputs, by_objects.outputs)
