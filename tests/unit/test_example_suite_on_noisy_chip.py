"""The example lab suite (tests/hil) judges a noisy chip as it judges the ideal one.

CI runs tests/hil on the deterministic emulated chip as part of the whole suite; here it runs
again, in a pytest of its own, on the emulated chip whose truth is ``HIL_SIM_PROFILE=noisy``
(lost, spurious, jittered and misaddressed spikes). A healthy noisy chip must pass every
judging test, and a chip that strays much further must fail them: neither a false FAIL nor a
false PASS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from hil.chip.profile import PROFILE_DIR

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
#: Outcomes of a test that did what the suite says it must (burst_128 is a strict xfail; the
#: real-chip test is skipped on an emulated devkit).
GOOD_OUTCOMES = {"passed", "xfailed", "skipped"}


def run_example_suite(tmp_path: Path, truth: str, *args: str) -> dict:
    """``pytest tests/hil`` on an emulated devkit whose truth is ``truth``; its report."""
    report = tmp_path / "hil-report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HIL_"))}
    env["HIL_SIM_PROFILE"] = truth
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/hil",
            "-q",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "--hil-report",
            str(report),
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert report.is_file(), f"no report from tests/hil:\n{done.stdout[-3000:]}{done.stderr}"
    result = json.loads(report.read_text())
    truth_used = result["session"]["provenance"]["emulated_truth"]
    assert truth_used and truth_used["HIL_SIM_PROFILE"] == truth, truth_used
    return result


def failures(report: dict) -> dict[str, list[str]]:
    """Each test that did not do what it must, with its failed measurements."""
    return {
        test["nodeid"]: [
            f"{m['name']}={m['value']:.4g} (limits {m['lower']}..{m['upper']})"
            for m in test["measurements"]
            if m["outcome"] == "fail"
        ]
        or [test["message"] or test["outcome"]]
        for test in report["tests"]
        if test["outcome"] not in GOOD_OUTCOMES
    }


def measured(report: dict, test: str, name: str) -> list[float]:
    return [
        m["value"]
        for t in report["tests"]
        if t["nodeid"].startswith(test)
        for m in t["measurements"]
        if m["name"] == name
    ]


@pytest.mark.slow
def test_every_judging_test_passes_on_the_noisy_chip(tmp_path):
    report = run_example_suite(tmp_path, "noisy")
    assert not failures(report), json.dumps(failures(report), indent=1)
    judged = {t["nodeid"].partition("[")[0] for t in report["tests"]}
    for test in (
        "test_within_budget_no_stall",
        "test_burst_over_budget_stalls",
        "test_chip_agrees_with_sinabs",
        "test_chip_resets_as_the_network_was_made",
        "test_trained_classifier_agrees_with_sinabs",
    ):
        assert f"tests/hil/test_judging.py::{test}" in judged
    # the noise was there: the deterministic chip agrees with sinabs at a cosine above 0.99
    cosines = measured(
        report, "tests/hil/test_judging.py::test_chip_agrees", "poisson_34.layer0.cosine"
    )
    assert cosines and max(cosines) < 0.97, cosines


@pytest.mark.slow
def test_the_judging_tests_fail_a_chip_that_strays_much_further(tmp_path):
    """Every spike of cores 0-1 under a random address: the spike counts per core stay, the
    first-layer cosine falls to about 0.73 and the direction classifier to chance."""
    noisy = tomllib.loads((PROFILE_DIR / "noisy.toml").read_text())
    noisy["noise"]["misaddressed_spikes"] = 1.0
    scrambled = tmp_path / "scrambled.toml"
    scrambled.write_text(tomli_w.dumps(noisy))
    report = run_example_suite(tmp_path, str(scrambled), "-k", "agrees")
    assert set(failures(report)) == {
        "tests/hil/test_judging.py::test_chip_agrees_with_sinabs[subtract]",
        "tests/hil/test_judging.py::test_chip_agrees_with_sinabs[zero]",
        "tests/hil/test_judging.py::test_trained_classifier_agrees_with_sinabs",
    }
    accuracy = measured(report, "tests/hil/test_judging.py::test_trained", "direction.accuracy")
    assert accuracy and accuracy[0] < 0.5, accuracy
