"""Finding samna without importing it, and standing in for it where it is absent.

Anything that changes ``sys.modules`` runs in a subprocess, so this session stays clean.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from samna_fakes import INDEX_URL, PLACEHOLDER_TEXT, fake_samna

from hil.emulator.detect import detect_samna

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, pythonpath: Path | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_placeholder_is_detected_and_never_imported(tmp_path):
    marker = fake_samna(tmp_path, "0.48.6", PLACEHOLDER_TEXT)
    found = detect_samna([str(tmp_path)])
    assert (found.kind, found.version) == ("placeholder", "0.48.6")
    assert found.location == tmp_path / "samna"
    assert found.install_command == (
        f"pip install --force-reinstall samna==0.48.6 --index-url={INDEX_URL}"
    )
    assert not marker.exists()


def test_real_samna_is_recognised_by_its_extension_modules(tmp_path):
    marker = fake_samna(
        tmp_path, "0.41.0", "", extra_files=["samna.cpython-311-x86_64-linux-gnu.so"]
    )
    found = detect_samna([str(tmp_path)])
    assert (found.kind, found.version, found.install_command) == ("real", "0.41.0", None)
    assert not marker.exists()


def test_an_unrecognised_samna_counts_as_real(tmp_path):
    fake_samna(tmp_path, "1.0.0", "VERSION = 1\n")
    assert detect_samna([str(tmp_path)]).kind == "real"


def test_no_samna(tmp_path):
    assert detect_samna([str(tmp_path)]).kind == "none"
    (tmp_path / "samna" / "__pycache__").mkdir(parents=True)  # left behind by an uninstall
    assert detect_samna([str(tmp_path)]).kind == "none"


def test_install_never_shadows_a_real_samna(tmp_path):
    marker = fake_samna(
        tmp_path, "0.41.0", "", extra_files=["samna.cpython-311-x86_64-linux-gnu.so"]
    )
    result = run_python(
        """
        import json, sys
        from hil.emulator import install_as_samna
        print(json.dumps({"installed": install_as_samna(), "samna": "samna" in sys.modules}))
        """,
        pythonpath=tmp_path,
    )
    assert result == {"installed": False, "samna": False}
    assert not marker.exists()


def test_install_leaves_an_already_imported_samna_alone():
    result = run_python(
        """
        import json, sys, types
        other = sys.modules["samna"] = types.ModuleType("samna")
        from hil.emulator import install_as_samna
        print(json.dumps({"installed": install_as_samna(), "kept": sys.modules["samna"] is other}))
        """
    )
    assert result == {"installed": False, "kept": True}


@pytest.mark.skipif(detect_samna().kind == "real", reason="real samna installed here")
def test_sinabs_builds_configurations_against_the_emulated_samna():
    result = run_python(
        """
        import json, sys
        from hil.emulator import install_as_samna
        first, second = install_as_samna(), install_as_samna()

        import torch
        from torch import nn
        import sinabs.layers as sl
        from sinabs.backend.dynapcnn import DynapcnnNetwork
        from hil.chip.profile import load_profile
        from hil.emulator.compile import program_from_config

        torch.manual_seed(0)
        snn = nn.Sequential(
            nn.Conv2d(2, 4, 3, bias=False),
            sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
            nn.AvgPool2d(2),
            nn.Conv2d(4, 8, 3, bias=False),
            sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        )
        net = DynapcnnNetwork(snn, input_shape=(2, 34, 34), discretize=True)
        cfg = net.make_config(device="speck2fmodule", monitor_layers="all")
        program = program_from_config(cfg, load_profile("speck2f"))
        cores = net.layer2core_map
        same_weights = all(
            torch.equal(
                torch.from_numpy(program.cores[cores[i]].weights).long(),
                layer.conv_layer.weight.detach().long(),
            )
            for i, layer in net.dynapcnn_layers.items()
        )
        weight = net.dynapcnn_layers[0].conv_layer.weight.detach()
        print(json.dumps({
            "installed": [first, second],
            "samna": sys.modules["samna"].__name__,
            "samnagui": sys.modules["samnagui"].__name__,
            "config_type": type(cfg).__module__ + "." + type(cfg).__qualname__,
            "used": [core.used for core in program.cores],
            "monitored": [layer.monitor_enable for layer in cfg.cnn_layers],
            "same_weights": same_weights,
            "kernel_is_asymmetric": not torch.equal(weight, weight.transpose(2, 3)),
            "weights_nonzero": bool(weight.abs().sum() > 0),
        }))
        """
    )
    assert result["installed"] == [True, True]
    assert result["samna"] == "hil.emulator.samna"
    assert result["samnagui"] == "hil.emulator.samna.gui"
    assert result["config_type"] == "hil.emulator.samna.speck2f.configuration.SpeckConfiguration"
    assert sum(result["used"]) == 2
    assert result["monitored"] == result["used"]
    assert result["kernel_is_asymmetric"] and result["weights_nonzero"]
    assert result["same_weights"]
