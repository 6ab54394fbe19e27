"""Wrong verdicts the harness gave, each as a test: a silent network that passed, a reset
mode that contradicted the network by default, a check that raised on a device it cannot
judge. Each of these failed before the fix."""

import pytest
import sinabs.layers as sl
from sinabs.activation import MembraneReset
from torch import nn

from hil import recordings
from hil.analysis.checks import HilMeasure
from hil.analysis.lints import ERROR, check_network
from hil.backends import open_device
from hil.cli import main
from hil.emulator.samna import device as emulated_devices
from hil.examples import INPUT_SHAPE_34, scnn_34, silent_34
from hil.measurement import Outcome
from hil.recordings import synthetic


def made_for_zero() -> nn.Sequential:
    """``scnn_34`` built with reset-to-zero neurons."""
    net = scnn_34()
    for module in net:
        if isinstance(module, sl.IAFSqueeze):
            module.reset_fn = MembraneReset()
    return net


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def quiet():
    return recordings.Recording.from_events(
        synthetic.poisson(5_000, 0.3, size=(34, 34), seed=1), (34, 34), name="quiet"
    )


MODELS = "hil.examples"


def by_name(measure: HilMeasure, name: str):
    (found,) = [m for m in measure if m.name == name]
    return found


def test_a_layer_silent_on_chip_and_in_sinabs_fails_agreement(quiet):
    """It reported cosine 1.00, count error 0: two silent layers agree on nothing."""
    with open_device("sim") as device:
        chip = device.deploy(silent_34(), INPUT_SHAPE_34, monitor="all")
        run = chip.replay(quiet)
        reference = chip.reference(quiet)
        assert len(run.outputs_of(chip.mapping.core_of(1))) == 0
        measure = HilMeasure()
        measure.agreement(run, reference, min_cosine=0.9)
        spikes = by_name(measure, "quiet.layer1.spikes")
        assert spikes.outcome is Outcome.FAIL
        assert "the reference fired 0" in spikes.note
        assert by_name(measure, "quiet.layer1.cosine").outcome is Outcome.SKIPPED
        assert by_name(measure, "quiet.layer0.spikes").outcome is Outcome.PASS

        expected = HilMeasure()
        expected.agreement(run, reference, min_cosine=0.9, expect_silent=[1])
        assert expected.failures == []


def test_a_layer_silent_on_chip_while_sinabs_fires_fails(quiet):
    with open_device("sim") as device:
        chip = device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all")
        run = chip.replay(quiet)
        reference = chip.reference(quiet)
        core = chip.mapping.core_of(1)
        run.outputs = run.outputs[run.outputs["layer"] != core]
        measure = HilMeasure()
        measure.agreement(run, reference, min_cosine=0.9)
    assert {m.name for m in measure.failures} >= {"quiet.layer1.spikes", "quiet.layer1.cosine"}


def test_a_layer_that_can_never_fire_is_a_lint_error():
    report = check_network(silent_34(), INPUT_SHAPE_34)
    (finding,) = report.errors
    assert (finding.rule, finding.layer) == ("silent-layer", 1)
    assert "can never fire: no weight is positive" in finding.message
    assert check_network(scnn_34(), INPUT_SHAPE_34).errors == []


def test_cli_replay_of_a_silent_output_layer_exits_1(tmp_path, capsys):
    models = f"{MODELS}:"
    args = ["replay", "--recording", "poisson_34", "--monitor", "all", "--model"]
    assert main([*args, models + "silent_34"]) == 1
    out, err = capsys.readouterr()
    assert "layer 1 on core" in out and "fired no spike" in out
    assert err.startswith("speck-hil: fail: layer 1 on core") and "output is empty" in err
    assert main([*args, models + "scnn_34"]) == 0
    assert main(["check", "--model", models + "silent_34", "--input-shape", "2,34,34"]) == 1
    out, _ = capsys.readouterr()
    assert "layer 1 on core" in out and "can never fire" in out


def test_deploy_takes_the_reset_from_the_network(quiet):
    """deploy() used reset='subtract' even for a network built with MembraneReset."""
    zero_net = made_for_zero()
    with open_device("sim") as device:
        chip = device.deploy(zero_net, INPUT_SHAPE_34, monitor="all")
        assert chip.reset_mode == "zero"
        config = chip.mapping.config
        assert all(config.cnn_layers[c].return_to_zero for c in chip.mapping.layer2core.values())
        assert chip.reference(quiet).reset_mode == "zero"
        assert device.deploy(scnn_34(), INPUT_SHAPE_34).reset_mode == "subtract"


def test_an_explicit_reset_against_the_network_is_a_lint_error_with_its_text():
    """It showed only as a count, "lint_warnings 4"."""
    zero_net = made_for_zero()
    with open_device("sim") as device:
        measure = HilMeasure()
        measure.fits_memory(device.deploy(zero_net, INPUT_SHAPE_34, reset="subtract"))
        failed = {m.name: m for m in measure.failures}
        assert {"lint.reset-mode.layer0", "lint.reset-mode.layer1", "lint_errors"} <= set(failed)
        note = failed["lint.reset-mode.layer0"].note
        assert "deployed with reset 'subtract'" in note and "MembraneReset" in note
        assert "MembraneReset" in str(failed["lint.reset-mode.layer0"])
        agreeing = HilMeasure()
        agreeing.fits_memory(device.deploy(zero_net, INPUT_SHAPE_34))
        assert agreeing.failures == []
    assert {f.severity for f in check_network(zero_net, INPUT_SHAPE_34, reset="subtract")
            .findings} == {ERROR}  # fmt: skip


def test_time_stepped_device_records_stall_and_synops_as_skipped(quiet):
    """measure.no_stall raised ValueError in the user's test on --device sinabs."""
    with open_device("sinabs") as device:
        run = device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all").replay(quiet)
    measure = HilMeasure()
    assert measure.no_stall(run) is None
    assert measure.synops_within_budget(run) is None
    skipped = [m for m in measure if m.outcome is Outcome.SKIPPED]
    assert [m.name for m in skipped] == ["quiet.delay_max", "quiet.synops_peak"]
    assert "time-stepped" in skipped[0].note and "no output delay" in skipped[0].note
    assert measure.failures == []
    assert skipped[0].as_dict()["outcome"] == "skipped"
    assert "n/a" in str(skipped[0])


def test_a_negative_pipeline_latency_is_refused_at_load(tmp_path):
    """It gave delays of -999 µs, and no_stall passed."""
    from hil.chip.profile import ProfileError, load_profile

    lab = tmp_path / "lab.toml"
    lab.write_text("[timing]\npipeline_latency_us = -1000\n")
    with pytest.raises(ProfileError, match="pipeline_latency_us"):
        load_profile("speck2f", override=lab)
    with pytest.raises(ProfileError, match="pipeline_latency_us"):
        open_device("sim", profile=lab)
