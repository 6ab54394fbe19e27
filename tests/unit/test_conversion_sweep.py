"""The first-layer scale sweep on the emulated chip with the shipped digits ANN: accuracy rises
with the factor, factor 1 is silent; a hidden truth with a quarter of the budgets moves the
chosen factor down and names the core; the JSON is the issue's; the CLI shows progress."""

from __future__ import annotations

import json
import math

import pytest

from hil import backends, cli
from hil.analysis.accuracy import AccuracyReport, Score
from hil.analysis.stall import stall_report
from hil.conversion.choice import choose
from hil.conversion.measure import ConversionMeasure
from hil.conversion.output import as_json, format_table, plot_pareto
from hil.conversion.results import CoreLoad, FactorResult
from hil.emulator.truth import SIM_PROFILE_ENV
from hil.examples import INPUT_SHAPE_34, digits_ann, silent_34
from hil.recordings import folders as recording_folders
from hil.recordings.datasets import dataset

#: The JSON keys the issue names for each factor.
ISSUE_KEYS = {"factor", "n", "accuracy", "ci_low", "ci_high", "sinabs_accuracy"}
ISSUE_KEYS |= {"synops_peak", "stalled"}


@pytest.fixture(scope="module")
def ten_digits():
    return dataset("digits", split="test").per_class(1)


@pytest.fixture(scope="module")
def swept(ten_digits):
    measure = ConversionMeasure()
    with backends.open_device("sim") as device:
        result = measure.sweep(device, digits_ann(), ten_digits, [1, 10])
    return result, measure


def test_accuracy_rises_with_the_factor_and_factor_1_is_silent(swept):
    result, _ = swept
    low, high = result.factors
    assert low.accuracy.chip.accuracy == 0.0 and low.silent_share == 1.0
    last_layer = max(low.onset)
    assert math.isinf(low.onset[last_layer])  # the signal never reaches the output
    assert high.accuracy.chip.ci_low > low.accuracy.chip.ci_high
    assert high.silent_share < 0.5 and high.onset[last_layer] < 1.0
    assert high.output_spikes_per_sample > low.output_spikes_per_sample
    assert result.chosen == 10.0 and result.binding_core is None


def test_sinabs_hooks_rate_is_the_devices_in_the_same_unit(swept):
    """sinabs.hooks takes dt in seconds: given seconds, its mean SynOps/s lands on the
    device's own count (a unit slip would put it 1000x off)."""
    for core in swept[0].factors[1].cores.values():
        if core.mean > 0:
            assert core.sinabs_hooks == pytest.approx(core.mean, rel=0.2)


def test_the_sweep_lands_in_the_measurements(swept):
    result, measure = swept
    values = {m.name: m.value for m in measure.measurements}
    assert values["sweep.chosen_factor"] == 10.0
    assert values["sweep.factor_found"] == 1.0
    assert values["sweep.x10.accuracy"] == result.factors[1].accuracy.chip.accuracy
    assert "sweep.x10.core0.synops_peak" in values
    assert not measure.failures


def test_json_has_the_issues_fields(swept, tmp_path):
    result, _ = swept
    document = json.loads(json.dumps(as_json(result)))
    assert document["chosen"] == 10.0 and document["binding_core"] is None
    for entry in document["factors"]:
        assert set(entry) >= ISSUE_KEYS
        assert len(entry["synops_peak"]) == len(entry["cores"])
    assert plot_pareto(result, tmp_path / "pareto.png").stat().st_size > 0
    table = format_table(result)
    assert "chosen factor: 10" in table and "sinabs.hooks" in table


@pytest.mark.slow
def test_a_quarter_of_the_budget_moves_the_chosen_factor_down(ten_digits, tmp_path, monkeypatch):
    """The harness believes the shipped budgets; the chip's hidden truth has a quarter of
    them. Factor 20 then stalls the chip and the sweep falls back to 5, naming the core."""
    truth = tmp_path / "quarter.toml"
    truth.write_text("[timing]\nsynops_per_s = [" + ", ".join(["1.25e7"] * 9) + "]\n")
    monkeypatch.setenv(SIM_PROFILE_ENV, str(truth))
    with backends.open_device("sim") as device:
        result = ConversionMeasure().sweep(device, digits_ann(), ten_digits, [5, 20])
    five, twenty = result.factors
    assert not five.stalled and twenty.stalled
    assert twenty.accuracy.chip.accuracy > five.accuracy.chip.accuracy
    assert result.chosen == 5.0
    assert result.binding_core == max(twenty.cores.values(), key=lambda c: c.load).core
    assert f"core {result.binding_core}" in result.reason


def _factor(factor: float, correct: int, peak: float, stalled: int = 0) -> FactorResult:
    report = AccuracyReport("d", Score.of(correct, 10), None, {}, ())
    cores = {
        0: CoreLoad(0, 0, 1e5, 1e5, 5e7, 1e5),
        2: CoreLoad(2, 2, peak, peak / 2, 5e7, peak / 2),
    }
    return FactorResult(factor, report, 1.0, 0.0, {0: 0.1}, cores, stalled, ["x"] * stalled, {})


def test_choice_ties_go_to_fewer_synops_and_none_names_the_core():
    chosen, core, _ = choose([_factor(5, 9, 2e7), _factor(7, 9, 3e7)], margin=0.1)
    assert (chosen, core) == (5, None)
    chosen, core, reason = choose([_factor(5, 9, 4.6e7), _factor(7, 9, 6e7)], margin=0.1)
    assert (chosen, core) == (None, 2)
    assert reason.startswith("none: core 2 rules out every factor")
    chosen, core, _ = choose([_factor(5, 6, 1e7), _factor(7, 9, 1e7, stalled=3)], margin=0.1)
    assert (chosen, core) == (5, 2)


def test_cli_shows_progress_and_writes_json(tmp_path, capsys):
    status = cli.main(
        [
            "sweep",
            "--ann",
            "hil.examples:digits_ann",
            "--dataset",
            "digits",
            "--factors",
            "10",
            "--samples-per-class",
            "1",
            "--format",
            "json",
            "--out",
            str(tmp_path),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert "[1/1] factor 10: accuracy" in err
    assert json.loads(out)["chosen"] == 10.0
    assert (tmp_path / "pareto.png").is_file() and (tmp_path / "sweep.json").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--factors", "1,x"], "expected factors like"),
        (["--factors", "0"], "positive"),
        (["--dataset", "nope"], "no dataset named 'nope'"),
        (["--margin", "1.5"], "--margin 1.5"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(args, says, capsys):
    base = ["sweep", "--ann", "hil.examples:digits_ann", "--dataset", "digits"]
    try:
        status = cli.main(base + args)
    except SystemExit as exc:  # argparse refuses a malformed value itself
        status = exc.code
    assert status == 2
    assert says in capsys.readouterr().err


def test_choice_on_a_device_without_time_says_nothing_was_judged():
    untimed = _factor(5, 9, 1e7)
    untimed = FactorResult(5, untimed.accuracy, 1.0, 0.0, {0: 0.1}, {}, 0, [], {})
    chosen, core, reason = choose([untimed], margin=0.1)
    assert (chosen, core) == (5, None) and "not judged" in reason


def test_a_run_whose_ideal_chip_stays_silent_has_no_stall():
    """Factor 1 leaves some samples with no output at all: the stall analysis must say
    'no delay' for them, not fail (delay pairing had no ideal output to pair with)."""
    recording = recording_folders.by_name("poisson_34")
    with backends.open_device("sim") as device:
        chip = device.deploy(silent_34(), input_shape=INPUT_SHAPE_34, monitor="exit")
        run = chip.replay(recording.window(0, 50_000))
    assert len(run.outputs) == 0
    report = stall_report(run)
    assert not report.stalled and report.max_us == 0.0
