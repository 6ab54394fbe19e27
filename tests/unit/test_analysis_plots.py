import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil import synthetic
from hil.analysis.agreement import agreement
from hil.analysis.plots import plot_run
from hil.analysis.stall import stall_report
from hil.analysis.synops import synops_report
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices


def test_a_picture_per_replay(tmp_path):
    emulated_devices.attach_emulated_devkits(["speck2fmodule"])
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 8, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    stimulus = synthetic.burst(5_000, 0.2, size=(32, 32), seed=1)
    with open_device("sim") as device:
        deployment = device.deploy(net, (2, 32, 32), monitor="all")
        run = deployment.replay(stimulus)
        reference = deployment.reference(stimulus)
    path = plot_run(
        tmp_path / "pictures" / "run.png",
        "burst",
        stall=stall_report(run),
        synops=synops_report(run),
        agreement=agreement(run, reference),
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_run(tmp_path / "empty.png", "nothing")
