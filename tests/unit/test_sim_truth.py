"""The emulated chip's physics come from HIL_SIM_PROFILE, what the harness believes from
--profile, and neither leaks into the other."""

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil.backends import open_device
from hil.chip.profile import ProfileError, load_profile
from hil.emulator.samna import device as emulated_devices
from hil.emulator.truth import emulated_profile
from hil.recordings import synthetic

SLOW_CORE_0 = "[timing]\nsynops_per_s = [2e6, 5e7, 5e7, 5e7, 5e7, 5e7, 5e7, 5e7, 5e7]\n"


@pytest.fixture(autouse=True)
def one_board(monkeypatch):
    monkeypatch.delenv("HIL_SIM_PROFILE", raising=False)
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def burst() -> np.ndarray:
    # ~36 SynOps per event on core 0: 200 k ev/s needs 7e6 SynOps/s, over a 2e6 budget.
    return synthetic.burst(
        5_000, 0.4, size=(32, 32), seed=2, burst_rate=200_000, burst_duration_s=0.05
    )


@pytest.fixture
def slow_core_0(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(SLOW_CORE_0)
    return path


def net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 16, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.3)
    return net


def replay(stimulus, profile=None):
    with open_device("sim", profile=profile) as device:
        board = emulated_devices.emulated_devkit(device.info.serial)
        run = device.deploy(net(), (2, 32, 32), monitor="all").replay(stimulus)
        return run, device.profile, board.profile


def test_a_lab_profile_does_not_change_the_emulated_chip(burst, slow_core_0):
    ideal, _, _ = replay(burst)
    believed_slow, belief, truth = replay(burst, profile=slow_core_0)
    assert belief.synops_per_s[0] == 2e6
    assert truth.synops_per_s[0] == 5e7
    np.testing.assert_array_equal(believed_slow.outputs, ideal.outputs)


def test_hil_sim_profile_sets_the_chip_and_the_harness_does_not_read_it(
    burst, slow_core_0, monkeypatch
):
    ideal, _, _ = replay(burst)
    monkeypatch.setenv("HIL_SIM_PROFILE", str(slow_core_0))
    slow, belief, truth = replay(burst)
    assert truth.synops_per_s == (2e6,) + (5e7,) * 8
    assert belief == load_profile("speck2f")
    assert "slow.toml" not in belief.source
    # Same spikes, later: the emulated core 0 queues what it cannot serve.
    assert len(slow.outputs) == len(ideal.outputs)
    lag = slow.outputs["t"].astype(np.int64) - np.sort(ideal.outputs["t"]).astype(np.int64)
    assert lag.max() > 5_000


def test_a_shipped_name_is_merged_over_the_boards_own_chip(monkeypatch):
    monkeypatch.setenv("HIL_SIM_PROFILE", "noisy")
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000", "speck2edevkit@SIM0001"])
    with open_device("sim:speck2edevkit") as device:
        truth = emulated_devices.emulated_devkit(device.info.serial).profile
        assert truth.name == "speck2e"
        assert truth.noise.stochastic_cores == (0, 1)
        assert "noisy.toml" in truth.source
        assert device.profile.noise.enabled is False


def test_without_hil_sim_profile_the_chip_is_its_shipped_profile():
    assert emulated_profile("speck2f") == load_profile("speck2f")
    assert not emulated_profile("speck2f").noise.enabled


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("nosuch", "no shipped profile 'nosuch' (shipped: noisy, speck2e, speck2f)"),
        ("missing.toml", "missing.toml: cannot read the device profile: no such file"),
        ("{bad}", "not valid TOML"),
        ("{noise}", "noise.input_loss is a probability, in [0, 1]; got 2"),
    ],
)
def test_a_bad_hil_sim_profile_is_one_line_naming_the_variable(
    value, problem, tmp_path, monkeypatch
):
    if value == "{bad}":
        value = str(tmp_path / "bad.toml")
        (tmp_path / "bad.toml").write_text("[timing\n")
    elif value == "{noise}":
        value = str(tmp_path / "noise.toml")
        (tmp_path / "noise.toml").write_text("[noise]\ninput_loss = 2\n")
    monkeypatch.setenv("HIL_SIM_PROFILE", value)
    with pytest.raises(ProfileError) as caught:
        emulated_profile("speck2f")
    message = str(caught.value)
    assert message.startswith(f"HIL_SIM_PROFILE={value}: ")
    assert problem in message
    assert "\n" not in message
    with pytest.raises(ProfileError, match=r"^HIL_SIM_PROFILE="):
        open_device("sim")


def test_a_bad_hil_sim_profile_stops_a_pytest_session_at_once(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    monkeypatch.setenv("HIL_SIM_PROFILE", "nosuch")
    pytester.makepyfile("def test_nothing(speck): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: HIL_SIM_PROFILE=nosuch: no shipped profile 'nosuch'*"])


def test_a_bad_hil_sim_profile_is_a_cli_error(monkeypatch, capsys):
    from hil.cli import main
    from hil.cli.common import EXIT_BAD_INPUT

    monkeypatch.setenv("HIL_SIM_PROFILE", "nosuch")
    code = main(["replay", "--device", "sim", "--model", "hil.examples:scnn_34",
                 "--input-shape", "2,34,34", "--recording", "poisson_34"])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("speck-hil: error: HIL_SIM_PROFILE=nosuch: no shipped profile")
    assert "\n" not in err
