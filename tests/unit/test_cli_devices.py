import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from samna_fakes import INDEX_URL, PLACEHOLDER_TEXT, fake_samna

from hil import recordings
from hil.cli import main
from hil.emulator.samna import device as emulated_devices

REPO = Path(__file__).resolve().parents[2]

MODEL_FILE = """
from hil.examples import scnn_34 as scnn


def not_a_net():
    return 42
"""


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def model(tmp_path) -> str:
    path = tmp_path / "models.py"
    path.write_text(MODEL_FILE)
    return str(path)


@pytest.fixture
def big_model(tmp_path) -> str:
    """A layer no core can hold: 64 maps of 64x64 need 262144 neuron words."""
    path = tmp_path / "big.py"
    path.write_text(
        "from torch import nn\nimport sinabs.layers as sl\n"
        "def big():\n"
        "    return nn.Sequential(nn.Conv2d(2, 64, 3, padding=1, bias=False),"
        " sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))\n"
    )
    return f"{path}:big"


def speck_hil(*args, pythonpath=None):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "hil.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_devices_reports_the_placeholder_without_importing_it(tmp_path):
    marker = fake_samna(tmp_path, "0.48.6", PLACEHOLDER_TEXT)
    result = speck_hil("devices", pythonpath=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "placeholder" in result.stdout
    assert f"pip install --force-reinstall samna==0.48.6 --index-url={INDEX_URL}" in result.stdout
    assert "sim:speck2fmodule@SIM0000" in result.stdout
    assert "sinabs" in result.stdout
    assert not marker.exists()


def test_replay_with_the_placeholder_installed_uses_the_emulator(tmp_path, model):
    marker = fake_samna(tmp_path / "site", "0.48.6", PLACEHOLDER_TEXT)
    result = speck_hil(
        "replay", "--model", f"{model}:scnn", "--recording", "poisson_34",
        pythonpath=tmp_path / "site",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(emulated)" in result.stdout
    assert not marker.exists()


def test_replay_summary_and_saved_outputs(tmp_path, model, capsys):
    out = tmp_path / "out.h5"
    code = main(
        ["replay", "--model", f"{model}:scnn", "--recording", "poisson_34", "--monitor", "all",
         "--out", str(out)]
    )  # fmt: skip
    stdout = capsys.readouterr().out
    assert code == 0
    for label in ("events in", "19,898", "events out", "core 0", "output delay", "drain"):
        assert label in stdout
    saved = recordings.load(out)
    assert len(saved) > 0
    assert saved.metadata["cores"] == "0,1"


def test_replay_on_sinabs(model, capsys):
    code = main(["replay", "--device", "sinabs", "--model", f"{model}:scnn",
                 "--recording", str(REPO / "recordings" / "poisson_34.h5")])  # fmt: skip
    assert code == 0
    assert "sinabs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("model_ref", "message"),
    [
        ("{model}:nope", "has no callable 'nope' (it has: not_a_net, scnn)"),
        ("{model}:not_a_net", "gave a int, not a torch module"),
        ("missing.pt", "missing.pt: no such file"),
        ("scnn", "expected FILE.pt"),
        ("no_such_module:f", "cannot import 'no_such_module'"),
    ],
)
def test_replay_bad_model_exits_2(model, capsys, model_ref, message):
    code = main(["replay", "--model", model_ref.format(model=model), "--recording", "poisson_34"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_replay_on_a_missing_devkit_exits_3_with_one_line(model, capsys):
    code = main(["replay", "--device", "speck2fmodule", "--model", f"{model}:scnn",
                 "--recording", "poisson_34"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("speck-hil: device error: speck2fmodule: no devkit can be opened")
    assert len(err.strip().splitlines()) == 1


def test_replay_of_an_undeployable_network_exits_2(big_model, capsys):
    code = main(["replay", "--model", big_model, "--recording", "moving_bar_128",
                 "--input-shape", "2,64,64"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "layer 0" in err


def test_check_prints_a_core_table(model, capsys):
    code = main(["check", "--model", f"{model}:scnn", "--input-shape", "2,34,34"])
    out = capsys.readouterr().out
    assert code == 0
    assert "kernel words" in out
    assert "0 error(s), 0 warning(s)" in out


def test_check_fails_on_a_layer_that_fits_no_core(big_model, capsys):
    code = main(["check", "--model", big_model, "--input-shape", "2,64,64"])
    out = capsys.readouterr().out
    assert code == 1
    assert "layer 0" in out
    assert "neuron memory 262144 words > 65536" in out


def test_replay_prints_each_verdict_with_its_limit_and_exits_1_on_a_failed_one(
    model, tmp_path, capsys
):
    args = ["replay", "--model", f"{model}:scnn", "--recording", "poisson_34", "--monitor", "all"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "all verdicts pass" in out
    for verdict in ("delay_max", "drain", "core0.synops_peak", "core1.synops_peak", "lint_errors"):
        assert re.search(rf"^  \S*{re.escape(verdict)} .* limit .* pass$", out, re.M), verdict
    strict = tmp_path / "strict.toml"  # what the lab believes: outputs within 1 µs
    strict.write_text("[stall]\nmax_delay_us = 1.0\n")
    assert main([*args, "--profile", str(strict)]) == 1
    out = capsys.readouterr().out
    failed = r"^  poisson_34\.delay_max .* limit x ≤ 1 +fail +\(peak for inputs at"
    assert re.search(failed, out, re.M)
    assert re.search(r"^\d+ of \d+ verdicts failed$", out, re.M)


def test_replay_says_which_verdicts_it_cannot_give(model, capsys):
    assert main(["replay", "--model", f"{model}:scnn", "--recording", "poisson_34"]) == 0
    assert "not judged: SynOps/s per core: needs every core's outputs (--monitor all)" in (
        capsys.readouterr().out
    )


def test_a_module_reference_to_a_file_here_suggests_the_file_form(tmp_path, monkeypatch, capsys):
    (tmp_path / "mynet.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    assert main(["replay", "--model", "mynet:scnn", "--recording", "poisson_34"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'mynet'" in err and "write mynet.py:FUNCTION" in err
    assert len(err.strip().splitlines()) == 1


def test_a_recording_the_network_cannot_take_is_an_input_shape_error(tmp_path, capsys):
    (tmp_path / "net64.py").write_text(
        "from torch import nn\nimport sinabs.layers as sl\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, bias=False),\n"
        "        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0), nn.Flatten(),\n"
        "        nn.Linear(4 * 31 * 31, 10, bias=False),\n"
        "        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))\n"
    )  # built for 2x64x64; poisson_34 is 34x34
    reference = f"{tmp_path / 'net64.py'}:net"
    assert main(["replay", "--model", reference, "--recording", "poisson_34"]) == 2
    err = capsys.readouterr().err
    assert "does not take input of shape 2,34,34 (C,H,W)" in err
    assert "--input-shape" in err and len(err.strip().splitlines()) == 1
    assert main(["check", "--model", reference, "--input-shape", "2,34,34"]) == 2
    assert "does not take input of shape 2,34,34" in capsys.readouterr().err


def test_check_takes_device_like_every_command(model, capsys):
    args = ["check", "--model", f"{model}:scnn", "--input-shape", "2,34,34"]
    assert main([*args, "--device", "sim:speck2edevkit"]) == 0
    assert "kernel words" in capsys.readouterr().out
    assert main([*args, "--device", "speck2fmodule"]) == 0  # nothing is opened
    capsys.readouterr()
    assert main([*args, "--device", "speck9"]) == 2
    assert "unknown device 'speck9'" in capsys.readouterr().err
