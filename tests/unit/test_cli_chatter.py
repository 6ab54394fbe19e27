"""``speck-hil`` keeps sinabs' per-deploy warnings quiet, as the pytest plugin does."""

import sys
import warnings

import pytest

from hil.cli import main

POOLED = """
import sinabs.layers as sl
import torch
from torch import nn


def net():
    iaf = lambda: sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
    seq = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), iaf(), nn.AvgPool2d(2),
                        nn.Conv2d(4, 8, 3, bias=False), iaf())
    torch.manual_seed(0)
    with torch.no_grad():  # positive weights: the output fires whatever the seed gave
        for layer in (seq[0], seq[3]):
            layer.weight.abs_()
    return seq
"""


@pytest.mark.parametrize("warnoptions", [[], ["default"]], ids=["quiet", "asked-for"])
def test_pooling_chatter_only_when_asked_for(warnoptions, tmp_path, capsys, monkeypatch):
    """A monitored core that pools makes sinabs warn on every deploy; the harness undoes the
    pooling, so the lab is not told, unless it asks (``-W``/``PYTHONWARNINGS``)."""
    monkeypatch.setattr(sys, "warnoptions", warnoptions)
    (tmp_path / "pooled.py").write_text(POOLED)
    model = f"{tmp_path / 'pooled.py'}:net"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["replay", "--model", model, "--recording", "poisson_34", "--monitor", "all"])
    assert code == 0, capsys.readouterr().err
    pooling = [w for w in caught if "has pooling and is being monitored" in str(w.message)]
    assert bool(pooling) == bool(warnoptions)
