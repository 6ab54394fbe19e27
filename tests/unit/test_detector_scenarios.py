"""The detectors judged on generated scenarios (``scenarios.draw``), against the queues' own
truth, on the deterministic chip and on a noisy one (0–2× the shipped ``noisy`` profile):

- **stall**: judged stalled (``stall_report``) against the true peak queueing delay and
  drain: a false alarm is a verdict "stalled" where the truth is under half the limits, a miss
  a pass where it is over twice them (between, either verdict is right); the estimate error
  is ``delay_max`` against the true peak, on the stalled scenarios whose delay was resolved;
- **SynOps budget**: each core's peak SynOps/s (``synops_report``) against what the chip was
  asked (its own chip without time), judged against the believed budget (±30 % off the
  truth): a false alarm is "over" where the core is asked under 0.9× the belief, a miss is
  "within" where it is asked over 1.1×;
- **agreement**: sinabs' reference in the deployment's reset mode, first the chip itself
  (must agree, min cosine 0.9 on the deterministic chip, 0.5 on the noisy one: a real chip
  shows 0.76), then a chip whose every core sends every spike under a random address (must
  not);
- **reset mode**: the chip deployed as made (must match) and with every core's reset
  flipped (must not); "cannot tell" is counted on its own.

``DETECTOR_SCENARIOS`` (default 240, the README table's count: about one draw in ten is skipped
as too costly, which leaves over 200 per class on each chip) sets how many scenarios; ``pytest
-n 2 -rP tests/unit/test_detector_scenarios.py -k generated`` prints the table. Scenarios run in
chunks (each its own test, so ``-n 2`` spreads them) adding to a tally the workers share; the
chunk completing it prints the table. Seeds that once failed are kept as named tests
(``REGRESSIONS``).
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from filelock import FileLock

from hil.analysis.agreement import agreement, event_reference, judge_reset_mode
from hil.analysis.delay import ideal_chip
from hil.analysis.stall import stall_report
from hil.analysis.synops import synops_report
from hil.backends import open_device
from hil.backends.base import Run
from hil.emulator.compile import program_from_config
from hil.emulator.samna import device as emulated_devices
from hil.emulator.speck import Speck
from tests.unit.scenarios import (
    MAX_OUTPUTS,
    draw,
    noiseless,
    replay,
    scaled_noise,
    true_delays,
    true_demand,
    truth_budgets,
    with_budgets,
)

pytestmark = pytest.mark.slow

SCENARIOS = int(os.environ.get("DETECTOR_SCENARIOS", "240"))
CHUNK = 6
CHUNKS = [range(start, min(start + CHUNK, SCENARIOS)) for start in range(0, SCENARIOS, CHUNK)]
CLASSES = ("stall", "synops", "agreement", "agreement_sinabs", "reset_mode")
#: Reported, not asserted: sinabs' 1 ms reference drifts from any chip in deep layers.
REPORTED_ONLY = ("agreement_sinabs",)
CHIPS = ("deterministic", "noisy")
#: Agreement and reset mode are asserted up to the shipped noise; beyond, reported only.
NOISE_ASSERTED = 1.0
TOTAL = "noisy 0–2×"  # the table's row of every noisy scenario
#: Seeds that once gave a wrong verdict, each kept as a named test.
REGRESSIONS: dict[str, int] = {
    "noisy-chip-lost-every-output-of-a-stalled-core": 32,  # 34 µs of 4.4 ms: "cannot tell"
    "stall-peak-after-its-last-resolved-window": 57,  # 6.0 s of 9.9 s: now the drain
    "noisy-stalled-cores-without-outputs": 78,  # -99.7 % of the peak: now "cannot tell"
    "noisy-reset-read-on-deep-layers": 21,  # a chip resetting to zero judged 'subtract'
    "noisy-first-layer-decimated-1-in-4": 56,  # cosine 0.36 on a right chip: "disagrees"
    "noisy-first-layer-decimated-1-in-8": 85,  # cosine 0.17 on a right chip: "disagrees"
    "noisy-48px-first-layer-decimated-1-in-4": 130,  # cosine 0.40 on a right chip: "disagrees"
    "noisy-0.3x-first-layer-decimated-1-in-2": 140,  # cosine 0.48 on a right chip: "disagrees"
}
#: Seeds still judged wrong, beyond the shipped noise: each must stay wrong until fixed.
KNOWN_WRONG: dict[str, int] = {
    "noisy-1.6x-counts-skewed-in-a-run-of-windows": 180,  # 1.7 ms read, 0.2 ms true
    # Reset mode at 1.9x: losing 4-8 % of the first layer's spikes moves its count as far as
    # the references are apart (5.2-5.9 %), towards the reset to zero (reported, not asserted).
    "noisy-1.9x-subtracting-chip-read-as-zero": 103,
    "noisy-1.9x-chip-flipped-to-subtract-read-as-zero": 139,
    "noisy-1.9x-chip-flipped-to-subtract-read-as-zero-dense": 189,
    "noisy-1.9x-subtracting-chip-read-as-zero-32px": 233,
}


@pytest.fixture(scope="module")
def device():
    emulated_devices.attach_emulated_devkits(["speck2fmodule"])
    with open_device("sim") as opened:
        yield opened


def evaluate(device, seed: int) -> dict | None:
    """Per chip and class: (false_alarm, miss, cannot_tell, estimate error or None); None for
    a draw whose ideal chip fires too much to be cheap (it is skipped, and counted)."""
    scenario = draw(seed)
    deployment = device.deploy(
        scenario.net, scenario.input_shape, monitor="all", decimators=scenario.decimators
    )
    inputs = deployment.mapping.input_spikes(scenario.events)
    ideal = ideal_chip(deployment.mapping.config, deployment.device.profile).run(inputs)
    if len(ideal) > MAX_OUTPUTS or len(ideal) == 0:
        return None
    budgets = truth_budgets(scenario, deployment, inputs)
    truth = true_delays(deployment, inputs, budgets)
    deterministic = with_budgets(noiseless(deployment.device.profile), budgets)
    chips = {
        "deterministic": deterministic,
        "noisy": scaled_noise(deterministic, scenario.noise_scale, seed),
    }
    sinabs_ref = deployment.reference(scenario.events)
    events_ref = event_reference(deployment, inputs)
    results = {}
    for name, chip in chips.items():
        noise = 0.0 if name == "deterministic" else scenario.noise_scale
        run = replay(deployment, inputs, chip, seed)
        results[name] = {
            "stall": _stall(run, truth),
            "synops": _synops(run, deployment, inputs, chip, seed, budgets, scenario, truth),
            "agreement": _agreement(run, events_ref, deployment, inputs, chip, seed, noise),
            "agreement_sinabs": _agreement(run, sinabs_ref, deployment, inputs, chip, seed, noise),
            "reset_mode": _reset_mode(run, deployment, inputs, chip, seed, scenario.reset),
        }
    results["name"] = scenario.name
    results["noise"] = scenario.noise_scale
    return results


def _stall(run: Run, truth: dict[int, tuple[float, float]]):
    """A miss only where the check could tell: a stalled core whose delay it could not
    resolve in any window (too few outputs, or too dense) counts as "cannot tell"."""
    profile = run.deployment.device.profile
    peak = max(p for p, _ in truth.values())
    drain = max(d for _, d in truth.values())
    report = stall_report(run)
    stalled = peak > 2 * profile.max_delay_us or drain > 2 * profile.max_drain_us
    healthy = peak < 0.5 * profile.max_delay_us and drain < 0.5 * profile.max_drain_us
    late = {core for core, (p, _) in truth.items() if p > profile.max_delay_us}
    unsure = not report.stalled and bool(late & set(report.cannot_tell))
    error = None  # only where a window showed the peak (the drain is a lower bound)
    shown = [report.cores[c] for c in late if c in report.cores]
    if shown and not any(c.cannot_tell or c.peak_from_drain for c in shown):
        error = max(c.peak_us for c in shown) / peak - 1
    return healthy and report.stalled, stalled and not report.stalled and not unsure, unsure, error


def _synops(run, deployment, inputs, chip, seed, budgets, scenario, truth):
    """Judged on the cores whose inputs are not held back by a queue upstream (a stalled
    core's outputs reach the next one at its budget, not as the ideal chip sends them)."""
    asked = true_demand(deployment, inputs, _untimed(deployment, chip, seed))
    report = synops_report(run)
    believed = {core: budgets[core] * (1 + scenario.belief_error) for core in asked}
    alarm = miss = False
    worst = 0.0
    for layer, core in sorted(deployment.mapping.layer2core.items()):
        upstream = deployment.mapping.layer2core.get(layer - 1)
        if upstream is not None and truth.get(upstream, (0.0, 0.0))[0] > 500:
            break
        demand = asked[core]
        estimate = report.cores[core].peak_synops_per_s if core in report.cores else 0.0
        over = estimate > believed[core]
        alarm |= over and demand < 0.9 * believed[core]
        miss |= not over and demand > 1.1 * believed[core]
        if demand > 0:
            worst = max(worst, estimate / demand - 1, key=abs)
    return alarm, miss, False, worst


def _untimed(deployment, chip, seed) -> Speck:
    """The chip without time (its noise kept, the same seed): what it is asked is what the
    inputs that reach each core ask of it."""
    return Speck(deployment.mapping.config, chip, seed=seed, timing=False)


def _agreement(run, reference, deployment, inputs, chip, seed, noise: float):
    """The chip must agree (min cosine 0.9 on the deterministic chip, 0.5 on a noisy one up
    to the shipped noise, first layer only; beyond it, no verdict is right or wrong), and a
    chip whose every spike carries a random address must not, judged on the layers where
    such a chip would reach under 0.8× the limit (``LayerAgreement.chance_cosine``;
    elsewhere "cannot tell"); layers with under 50 spikes are left out, and so are those
    whose cosine the check itself cannot judge (under the limit behind a decimator:
    ``LayerAgreement.cosine_cannot_tell``)."""
    min_cosine = 0.9 if noise == 0 else 0.5
    entry = deployment.mapping.core_of(0)

    def disagrees(device_run, can_show: bool) -> bool | None:
        layers = [
            layer
            for layer in agreement(device_run, reference)
            if min(layer.reference_spikes, layer.device_spikes) >= 50
            and (noise == 0 or layer.core == entry)  # noise compounds layer by layer
            and (not can_show or layer.chance_cosine < 0.8 * min_cosine)
            and not layer.cosine_cannot_tell(min_cosine)
        ]
        if not layers:
            return None
        return any(not layer.cosine >= min_cosine for layer in layers)

    scrambled = dataclasses.replace(
        chip,
        noise=dataclasses.replace(
            chip.noise,
            stochastic_cores=tuple(deployment.mapping.layer2core.values()),
            misaddressed_spikes=1.0,
        ),
    )
    own = disagrees(run, can_show=False)
    wrong = disagrees(replay(deployment, inputs, scrambled, seed), can_show=True)
    return bool(own) and noise <= 1.0, wrong is False, wrong is None, None


def _reset_mode(run, deployment, inputs, chip, seed, made: str):
    verdict, _, _ = judge_reset_mode(run, expected=made)
    program = program_from_config(deployment.mapping.config, deployment.device.profile)
    program.cores = [
        dataclasses.replace(core, return_to_zero=not core.return_to_zero) if core.used else core
        for core in program.cores
    ]
    flipped = Run(inputs, Speck(program, chip, seed=seed).run(inputs), deployment, 0.0, 0.0)
    wrong, _, _ = judge_reset_mode(flipped, expected=made)
    unsure = bool(verdict.cannot_tell or wrong.cannot_tell)
    alarm = not verdict.cannot_tell and verdict.behaves_like != made
    miss = not wrong.cannot_tell and wrong.behaves_like == made
    return alarm, miss, unsure, None


def table(results: dict) -> list[dict]:
    """The README's rows: per class and chip (the noisy one up to the shipped noise, beyond,
    and both together), scenarios, false alarms, misses, cannot tell and the worst estimate
    error, with the seeds of every wrong verdict."""
    rows = []
    kept = {seed: r for seed, r in results.items() if r is not None}
    groups = {
        "deterministic": ("deterministic", lambda r: True),
        "noisy ≤1×": ("noisy", lambda r: r["noise"] <= NOISE_ASSERTED),
        "noisy 1–2×": ("noisy", lambda r: r["noise"] > NOISE_ASSERTED),
        TOTAL: ("noisy", lambda r: True),
    }
    for cls in CLASSES:
        for label, (chip, member) in groups.items():
            cells = {seed: r[chip][cls] for seed, r in kept.items() if member(r)}
            errors = [c[3] for c in cells.values() if c[3] is not None]
            rows.append(
                {
                    "class": cls,
                    "chip": label,
                    "scenarios": len(cells),
                    "false_alarms": [s for s, c in cells.items() if c[0]],
                    "misses": [s for s, c in cells.items() if c[1]],
                    "cannot_tell": sum(c[2] for c in cells.values()),
                    "worst_error": max(errors, key=abs) if errors else None,
                }
            )
    return rows


def print_table(results: dict) -> None:
    skipped = sum(r is None for r in results.values())
    print(f"\n{len(results)} scenarios drawn, {skipped} skipped (ideal chip over {MAX_OUTPUTS:,})")
    print("| class | chip | scenarios | false alarms | misses | cannot tell | worst error |")
    for row in table(results):
        error = "—" if row["worst_error"] is None else f"{row['worst_error']:+.1%}"
        print(
            f"| {row['class']} | {row['chip']} | {row['scenarios']} | "
            f"{len(row['false_alarms'])} {row['false_alarms'][:8]} | "
            f"{len(row['misses'])} {row['misses'][:8]} | {row['cannot_tell']} | {error} |"
        )


@pytest.fixture(scope="module")
def tally(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "detector-scenarios.json"

    def add(results: dict) -> dict | None:
        with FileLock(f"{path}.lock"):
            everything = json.loads(path.read_text()) if path.exists() else {}
            everything.update({str(seed): r for seed, r in results.items()})
            path.write_text(json.dumps(everything))
        return everything if len(everything) == SCENARIOS else None

    return add


def wrong_verdicts(results: dict, beyond_noise: bool = False) -> dict[str, list[int]]:
    """The wrong verdicts asserted (with ``beyond_noise``, also those of agreement and reset
    mode past the shipped noise, which are reported, not asserted)."""
    return {
        f"{row['chip']} {row['class']} {what}": row[what]
        for row in table(results)
        for what in ("false_alarms", "misses")
        if row[what]
        and row["chip"] != TOTAL
        and row["class"] not in REPORTED_ONLY
        and (
            beyond_noise
            or not (row["chip"] == "noisy 1–2×" and row["class"] in ("agreement", "reset_mode"))
        )
    }


@pytest.mark.parametrize("seeds", CHUNKS, ids=lambda s: f"scenarios{s.start}-{s.stop - 1}")
def test_generated(device, seeds, tally):
    """No false alarm and no miss in any class, on either chip (agreement and reset mode up
    to the shipped noise); estimate errors are reported, not asserted. A seed known to be
    judged wrong is counted in the table and left to ``test_known_wrong``."""
    results = {seed: evaluate(device, seed) for seed in seeds}
    everything = tally(results)
    if everything is not None:
        print_table(everything)
    wrong = wrong_verdicts({s: r for s, r in results.items() if s not in KNOWN_WRONG.values()})
    assert not wrong, wrong


@pytest.mark.parametrize("seed", list(REGRESSIONS.values()), ids=list(REGRESSIONS))
def test_regression(device, seed):
    results = {seed: evaluate(device, seed)}
    assert not wrong_verdicts(results), wrong_verdicts(results)


@pytest.mark.xfail(strict=True, reason="a known wrong verdict beyond the shipped noise")
@pytest.mark.parametrize("seed", list(KNOWN_WRONG.values()), ids=list(KNOWN_WRONG))
def test_known_wrong(device, seed):
    results = {seed: evaluate(device, seed)}
    assert not wrong_verdicts(results, beyond_noise=True), wrong_verdicts(results, True)
