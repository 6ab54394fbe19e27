"""SynOps/s in one unit: sinabs.hooks (dt in seconds) beside the device's own count, in
``speck-hil check --recording`` and over batches of runs."""

from __future__ import annotations

import re

import pytest

from hil import backends, cli
from hil.analysis.synops_units import hooks_synops_per_s
from hil.examples import INPUT_SHAPE_34, scnn_34
from hil.recordings import folders as recording_folders


def test_check_recording_prints_every_estimate_with_its_unit(capsys):
    argv = ["check", "--model", "hil.examples:scnn_34", "--input-shape", "2,34,34"]
    assert cli.main([*argv, "--recording", "poisson_34"]) == 0
    out = capsys.readouterr().out
    assert "sinabs.hooks (dt=0.001 s)" in out and "SNNAnalyzer (dt=1 ms)" in out
    rows = re.findall(
        r"^\s+(\d)\s+(\d)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M
    )
    assert [row[0] for row in rows] == ["0", "1"]
    for _, _, mean, _, _, hooks, analyzer, _ in rows:
        assert float(hooks) == pytest.approx(float(mean), rel=0.05)
        assert float(analyzer) == pytest.approx(float(mean), rel=0.05)


def test_hooks_over_several_runs_is_the_rate_over_their_time():
    recording = recording_folders.by_name("poisson_34")
    net = scnn_34()
    with backends.open_device("sim") as device:
        mapping = device.deploy(net, input_shape=INPUT_SHAPE_34, monitor="all").mapping
    first = mapping.input_spikes(recording.window(0, 100_000))
    second = mapping.input_spikes(recording.window(100_000, 400_000))
    second["t"] -= second["t"][0]
    alone = [hooks_synops_per_s(net, mapping, run) for run in (first, second)]
    together = hooks_synops_per_s(net, mapping, [first, second])
    steps = [int(run["t"][-1] - run["t"][0]) // 1000 + 1 for run in (first, second)]
    for core, rate in together.items():
        expected = (alone[0][core] * steps[0] + alone[1][core] * steps[1]) / sum(steps)
        assert rate == pytest.approx(expected, rel=1e-4)
