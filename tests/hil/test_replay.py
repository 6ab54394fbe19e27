"""The example lab suite: device tests that run unchanged on sim, sinabs and a real devkit.

Each test deploys a seeded fixture network, replays a recording from the manifest and
measures what came out. ``pytest tests/hil --device speck2fmodule`` runs them on a devkit.
"""

import math

import numpy as np
import pytest

from hil.examples import INPUT_SHAPE_34, INPUT_SHAPE_128, scnn_34, scnn_128

#: Host wall time a replay of a 1 s recording may take, and the band below it that is
#: flagged marginal: a real chip takes the recording's duration, the emulator less.
MAX_REPLAY_S = 30.0
MARGINAL_REPLAY_S = 10.0


def measure_replay(measure, run, recording) -> None:
    """What every replay must satisfy, whatever the network."""
    monitored = run.deployment.mapping.monitored_cores
    outputs = run.outputs
    measure("events_in", len(run.inputs), "events", lower=len(recording), upper=len(recording))
    measure("events_out", len(outputs), "events", lower=1)
    stray = int(np.count_nonzero(~np.isin(outputs["layer"], monitored)))
    measure("events_from_unmonitored_cores", stray, "events", upper=0)
    earliest = int(outputs["t"].min()) if len(outputs) else math.nan
    measure("earliest_output_t", earliest, "µs", lower=0)
    measure("replay_wall", run.wall_s, "s", upper=MAX_REPLAY_S, marginal=MARGINAL_REPLAY_S)


def test_scnn_34_on_poisson(speck, recording, measure):
    rec = recording("poisson_34")
    chip = speck.deploy(scnn_34(), input_shape=INPUT_SHAPE_34, reset="subtract", monitor="all")
    run = chip.replay(rec)
    measure_replay(measure, run, rec)
    for core in chip.mapping.monitored_cores:
        measure(f"events_out_core{core}", len(run.outputs_of(core)), "events", lower=1)


def test_scnn_128_on_moving_bar(speck, recording, measure):
    rec = recording("moving_bar_128")
    chip = speck.deploy(scnn_128(), input_shape=INPUT_SHAPE_128, reset="zero", monitor="all")
    run = chip.replay(rec)
    measure_replay(measure, run, rec)


def test_only_the_exit_layer_is_monitored(speck, recording, measure):
    rec = recording("poisson_34")
    chip = speck.deploy(scnn_34(), input_shape=INPUT_SHAPE_34, monitor="exit")
    run = chip.replay(rec)
    measure_replay(measure, run, rec)
    measure("monitored_cores", len(chip.mapping.monitored_cores), "cores", lower=1, upper=1)


@pytest.mark.device("speck2f*")
def test_speck2f_has_nine_cores(speck, device_profile, measure):
    chip = speck.deploy(scnn_34(), input_shape=INPUT_SHAPE_34)
    measure("cores", device_profile.n_cores, "cores", lower=9, upper=9)
    used = max(chip.mapping.layer2core.values())
    measure("highest_core_used", used, "", lower=0, upper=device_profile.n_cores - 1)


@pytest.mark.hardware
def test_real_chip_releases_inputs_in_real_time(speck, recording, measure):
    rec = recording("poisson_34")
    chip = speck.deploy(scnn_34(), input_shape=INPUT_SHAPE_34)
    run = chip.replay(rec)
    measure("replay_wall", run.wall_s, "s", lower=rec.duration_us / 1e6)
