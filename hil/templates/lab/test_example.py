"""An example lab suite: a small sinabs network on the device ``--device`` names (the emulated
devkit by default), judged by every check the harness has.

Each check records measurements with limits; a test fails at its end listing every measurement
out of its limit, and every value lands in the run record, passing or not.
"""

import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil import recordings

#: (channels, height, width) of the shipped example recording ``poisson_34``.
INPUT_SHAPE = (2, 34, 34)


def small_net(channels: int = 2, seed: int = 34) -> nn.Sequential:
    """Two convolutional layers of integrate-and-fire neurons, with seeded weights so every
    machine and every night runs the same network."""
    net = nn.Sequential(
        nn.Conv2d(channels, 8, kernel_size=3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),  # min_v_mem: the chip's lower clamp
        nn.Conv2d(8, 16, kernel_size=3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Conv2d):
                draw = torch.rand(layer.weight.shape, generator=generator)
                layer.weight.copy_(draw * 0.6 - 0.25)
    return net


def test_small_net_on_the_chip(speck, recording, measure):
    rec = recording("poisson_34")  # shipped with speck-hil; yours: recording("NAME")
    chip = speck.deploy(small_net(), input_shape=INPUT_SHAPE, reset="subtract", monitor="all")
    measure.fits_memory(chip)  # per core: kernel, neuron and bias words; lints
    run = chip.replay(rec)
    measure("events_in", len(run.inputs), "events", lower=len(rec), upper=len(rec))
    measure("events_out", len(run.outputs), "events", lower=1)
    if speck.dt_us is None:  # a device with time (not the time-stepped sinabs backend)
        measure.no_stall(run)  # output delay and drain within the profile's limits
        measure.synops_within_budget(run)  # per core: peak SynOps/s within its budget
    reference = chip.reference(rec)  # sinabs, same discretized network, same reset
    measure.agreement(run, reference, min_cosine=0.9, max_count_error=0.3)
    measure.reset_mode(chip, rec)  # behaves like the reset the network was made for


def test_lab_recordings(speck, recordings_dir, recording, measure):
    """Every recording in this suite's own manifest goes through the network and the chip
    keeps up with it."""
    if not (recordings_dir / recordings.MANIFEST).is_file():
        pytest.skip(f"no {recordings.MANIFEST} in {recordings_dir}")
    names = sorted(recordings.read_manifest(recordings_dir))
    if not names:
        pytest.skip("no recordings of your own yet: speck-hil recordings add FILE --dir recordings")
    for name in names:
        rec = recording(name)
        width, height, channels = rec.sensor_size
        chip = speck.deploy(
            small_net(channels), input_shape=(channels, height, width), monitor="all"
        )
        run = chip.replay(rec)
        measure(f"{name}.events_in", len(run.inputs), "events", lower=len(rec), upper=len(rec))
        if speck.dt_us is None:
            measure.no_stall(run)
            measure.synops_within_budget(run)
