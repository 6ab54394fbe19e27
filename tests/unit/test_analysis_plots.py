import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil.analysis.agreement import LayerAgreement, ResetModeVerdict, agreement
from hil.analysis.delay import OutputDelays
from hil.analysis.plots import core_colour, plot_run, run_figure
from hil.analysis.stall import StallReport, stall_report
from hil.analysis.synops import CoreSynops, SynopsReport, synops_report
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices
from hil.recordings import synthetic


def test_a_picture_per_replay(tmp_path):
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
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


def _core(core: int, rates: list[float], budget: float) -> CoreSynops:
    rates = np.asarray(rates, dtype=np.float64)
    return CoreSynops(
        core=core, layer=core, input_events=100, synops=1000,
        window_start_us=np.arange(len(rates)) * 10_000, synops_per_s=rates,
        peak_synops_per_s=float(rates.max()), peak_window_us=(0, 10_000),
        mean_synops_per_s=float(rates.mean()), budget_synops_per_s=budget,
        formula_synops_per_s=float(rates.mean()),
    )  # fmt: skip


def _synops(*cores: CoreSynops) -> SynopsReport:
    return SynopsReport({c.core: c for c in cores}, 0, 100_000, 10_000, 1_000)


def _stall(max_delay_us: float = 1000.0) -> StallReport:
    # core 1's outputs are delayed most (it is downstream), core 0 is the one over budget
    delays = OutputDelays(
        t_us=np.array([0, 10_000, 20_000, 30_000, 40_000]),
        delay_us=np.array([100.0, 900.0, 300.0, 1150.0, 200.0]),
        layer=np.array([0, 0, 1, 1, 1]),
        unmatched_device=0,
        unmatched_reference=0,
    )
    return StallReport(delays, 300.0, 1150.0, 1150.0, 30_000, 0.0, 0.0, 0.0, max_delay_us,
                       5000.0, None, ["delay"])  # fmt: skip


def _legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_each_core_has_its_colour_and_its_own_budget_line_overloaded_first():
    # equal budgets (the case that used to collapse into one unlabelled line)
    synops = _synops(_core(1, [1e6, 4.6e7], 5e7), _core(0, [1e6, 5.75e7], 5e7))
    figure = run_figure("burst", stall=_stall(), synops=synops)
    delay_ax, synops_ax = figure.axes[:2]
    legend = _legend(synops_ax)
    assert legend[0].startswith("core 0: peak 5.75e+07 (115 % of budget) OVER")
    assert legend[1] == "core 0 budget 5e+07"
    assert legend[2].startswith("core 1: peak") and legend[3] == "core 1 budget 5e+07"
    budget_lines = [ln for ln in synops_ax.get_lines() if " budget " in ln.get_label()]
    assert {line.get_color() for line in budget_lines} == {core_colour(0), core_colour(1)}
    assert len({str(line.get_linestyle()) for line in budget_lines}) == 1  # dashed alike
    assert budget_lines[0]._dash_pattern[0] != budget_lines[1]._dash_pattern[0]  # interleaved
    # the overloaded core is listed first and drawn on top in the delay panel as well
    assert _legend(delay_ax)[0] == "core 0 (over its SynOps budget)"
    z = {line.get_label(): line.get_zorder() for line in delay_ax.get_lines()}
    assert z["core 0 (over its SynOps budget)"] > z["core 1"]
    for line in delay_ax.get_lines()[:2]:
        core = int(line.get_label().split()[1])
        assert line.get_color() == core_colour(core)


def test_scales_are_linear_so_a_15_percent_overrun_shows():
    synops = _synops(_core(0, [1e6, 5.75e7], 5e7))
    delay_ax, synops_ax = run_figure("x", stall=_stall(), synops=synops).axes[:2]
    for ax, peak, limit in ((synops_ax, 5.75e7, 5e7), (delay_ax, 1.15, 1.0)):
        assert ax.get_yscale() == "linear"
        bottom, top = ax.get_ylim()
        assert bottom == 0 and top < 1.5 * peak
        assert (peak - limit) / top > 0.1  # the overrun is over a tenth of the panel's height


def test_the_reset_mode_picture_shows_both_references():
    layer = dict(layer=0, core=0, device_spikes=100, cosine=1.0, count_distance=0.1,
                 count_error=0.1, rate_distance=0.1, class_agreement=None)  # fmt: skip
    by_mode = {
        "subtract": [LayerAgreement(reference_spikes=130, **layer)],
        "zero": [LayerAgreement(reference_spikes=98, **layer)],
    }
    verdict = ResetModeVerdict("zero", "subtract", {"subtract": 0.3, "zero": 0.05})
    (ax,) = run_figure("reset", reset_modes=(verdict, by_mode)).axes
    assert ax.get_title().startswith("reset mode: WRONG")
    labels = _legend(ax)
    assert labels[0] == "chip"
    assert any("reset subtract (made for)" in label for label in labels)
    assert any("reset zero" in label for label in labels)
    heights = sorted(patch.get_height() for patch in ax.patches)
    assert heights == [98, 100, 130]
    right = ResetModeVerdict("subtract", "subtract", {"subtract": 0.05, "zero": 0.3})
    (ax,) = run_figure("reset", reset_modes=(right, by_mode)).axes
    assert ax.get_title().startswith("reset mode: as made")
