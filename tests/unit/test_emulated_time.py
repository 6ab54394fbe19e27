"""Emulated chip time passes with wall time while the board's clocks run and the chip has
nothing to do (the slow clock's leak ticks while a test sleeps), and never holds a replay back.

The wall clock is a fake here (``fake_wall``), so no test sleeps, except the one that drives the
board as sinabs' own ``test_neuron_leak`` does.
"""

import itertools
import time

import numpy as np
import pytest
import torch
from fake_wall import fake_wall_clock  # noqa: F401 (the wall fixture)
from field_events import built
from torch import nn

import hil.emulator.samna as samna
from hil.emulator.install import install_as_samna
from hil.emulator.samna import device as emulated_devices
from tests.unit.test_emulated_devkit import identity_config

START = 50
BIAS = -1


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


def leaky_config(threshold: int = 1000):
    """The identity core, with a bias of BIAS, a leak of -1 per slow-clock tick, and neurons
    at START."""
    config = identity_config()
    core = config.cnn_layers[0]
    core.biases = [BIAS]
    core.leak_enable = True
    core.neurons_initial_value = np.full((1, 4, 4), START).tolist()
    core.threshold_high = threshold
    core.threshold_low = -1000
    return config


class Board:
    """An emulated board with the leaky core applied, its slow clock at ``hz``."""

    def __init__(self, hz: float = 10.0, threshold: int = 1000):
        self.handle = samna.device.open_device("Speck2fModuleDevKit:0")
        self.handle.get_model().apply_configuration(leaky_config(threshold))
        self.handle.get_model().wait_written()
        self.handle.get_io_module().set_slow_clk_rate(hz)
        self.source = samna.BasicSourceNode_speck2f_event_input_event()
        self.sink = samna.BasicSinkNode_speck2f_event_output_event()
        model = self.handle.get_model()
        self.graphs = [samna.graph.EventFilterGraph(), samna.graph.EventFilterGraph()]
        self.graphs[0].sequential([self.source, model.get_sink_node()])
        self.graphs[1].sequential([model.get_source_node(), self.sink])
        for graph in self.graphs:
            graph.start()

    def read(self):
        self.source.write([built(samna.speck2f.event.ReadNeuronValue, layer=0, address=0)])
        (reply,) = [e for e in self.sink.get_events() if hasattr(e, "neuron_state")]
        return reply

    def spikes(self, times_us):
        event = samna.speck2f.event.Spike
        self.source.write([built(event, layer=0, x=1, timestamp=t) for t in times_us])
        return [e for e in self.sink.get_events() if type(e) is event]


def test_leak_ticks_while_the_stop_watch_runs_and_the_host_sleeps(wall):
    board = Board(hz=10)
    board.handle.get_stop_watch().start()
    wall.sleep(1.05)
    reply = board.read()
    assert reply.neuron_state == START + 10 * BIAS
    assert reply.timestamp == pytest.approx(1.05e6, abs=1)
    wall.sleep(0.5)
    assert board.read().neuron_state == START + 15 * BIAS


def test_an_enabled_slow_clock_ticks_without_the_stop_watch(wall):
    """sinabs' test_neuron_leak enables the slow clock and never starts the stop watch."""
    board = Board(hz=10)
    board.handle.get_io_module().set_slow_clk(True)
    wall.sleep(0.35)
    assert board.read().neuron_state == START + 3 * BIAS


def test_no_time_passes_while_every_clock_is_stopped(wall):
    board = Board(hz=10)
    wall.sleep(5)
    assert board.read().neuron_state == START
    watch = board.handle.get_stop_watch()
    watch.start()
    wall.sleep(0.25)
    watch.stop()  # the two ticks before the stop happened; none after
    wall.sleep(5)
    assert board.read().neuron_state == START + 2 * BIAS


def test_applying_a_configuration_starts_its_time_from_zero(wall):
    board = Board(hz=10)
    board.handle.get_stop_watch().start()
    wall.sleep(2)
    board.handle.get_model().apply_configuration(leaky_config())
    wall.sleep(0.15)
    assert board.read().neuron_state == START + BIAS


def test_a_replay_runs_ahead_of_the_wall_clock_at_its_own_timestamps(wall):
    board = Board(hz=10, threshold=1)  # one output per input
    watch = board.handle.get_stop_watch()
    watch.reset()
    watch.start()
    wall.sleep(0.5)  # the host is slow to write: its inputs still run at their timestamps
    outputs = board.spikes(range(1_000, 2_000_001, 1_000))
    # Each output leaves its input's time later by the core's 1 µs pipeline latency.
    assert [e.timestamp for e in outputs] == list(range(1_001, 2_000_002, 1_000))
    # The events took the chip to 2 s, ahead of the wall clock (0.5 s): time stays there.
    assert board.read().timestamp == 2_000_000
    wall.sleep(2.0)  # now the wall clock is ahead: 2.5 s since the start
    assert board.read().timestamp == pytest.approx(2.5e6, abs=1)


def test_inputs_written_after_an_idle_wait_are_released_at_the_chips_time(wall):
    board = Board(hz=10, threshold=1)
    board.handle.get_stop_watch().start()
    wall.sleep(1.0)
    board.read()  # the chip is now at 1 s: ten ticks happened
    (output,) = board.spikes([10])  # written late: released at once, at the chip's time
    assert output.timestamp == pytest.approx(1e6, abs=1)


@pytest.mark.slow
def test_sinabs_sees_the_neuron_leak_while_it_sleeps():
    """What sinabs' tests/test_dynapcnn/test_neuron_leak.py does against a devkit: deploy one
    1x1 layer with a negative bias and a 1 Hz slow clock, sleep, read the neurons: each read
    is lower than the one before (real time: sinabs' own calls sleep)."""
    assert install_as_samna()
    from sinabs.backend.dynapcnn import DynapcnnNetwork
    from sinabs.backend.dynapcnn.io import calculate_neuron_address, neuron_address_to_cxy
    from sinabs.layers import IAFSqueeze

    snn = nn.Sequential(
        nn.Conv2d(1, 1, kernel_size=1, bias=True),
        IAFSqueeze(min_v_mem=-1.0, spike_threshold=1.0, batch_size=1),
    )
    snn[0].weight.data.fill_(1.0)
    snn[0].bias.data.fill_(-0.1)
    snn(torch.zeros(1, 1, 4, 4))
    snn[1].v_mem.data = torch.ones_like(snn[1].v_mem.data)
    network = DynapcnnNetwork(snn, discretize=True, dvs_input=False, input_shape=(1, 4, 4))
    network.to(device="speck2fmodule", slow_clk_frequency=1)
    network.samna_device.get_model().apply_configuration(network.samna_config)
    reads = []
    for x in range(4):
        for y in range(4):
            event = samna.speck2f.event.ReadNeuronValue()
            event.layer = 0
            event.address = calculate_neuron_address(x=x, y=y, c=0, feature_map_size=(1, 4, 4))
            reads.append(event)
    states: dict[tuple, list[int]] = {}
    time.sleep(1.0)
    for _ in range(3):
        network.samna_input_buffer.write(reads)
        time.sleep(1.01)
        for reply in network.samna_output_buffer.get_events():
            key = neuron_address_to_cxy(reply.address, feature_map_size=(1, 4, 4))
            states.setdefault(key, []).append(reply.neuron_state)
    assert len(states) == 16
    for history in states.values():
        assert len(history) == 3
        assert all(later < earlier for earlier, later in itertools.pairwise(history))
