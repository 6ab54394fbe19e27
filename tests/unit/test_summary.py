"""The terminal summary (what needs a look, then a tally), captured chatter, the pictures
warning and where relative paths of an ini resolve."""

import re
import shutil
from pathlib import Path

import pytest

from hil.plugin import summary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _lean_inner_runs(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    for name in ("HIL_DEVICE", "HIL_RECORDINGS", "HIL_SUMMARY", "HIL_PICTURES", "HIL_CHATTER"):
        monkeypatch.delenv(name, raising=False)


SUITE = """
import pytest

def test_fails(measure):
    measure("events_out", 0, "events", lower=1)
    measure("cores", 2, "cores", lower=1, upper=9)

def test_marginal(measure):
    measure("wall", 0.95, "s", upper=1.0, marginal=0.1)

@pytest.mark.xfail(strict=True, reason="the burst must stall")
def test_expected(measure):
    measure("delay_max", 12483, "µs", upper=1000)
    measure("delay_p50", 20, "µs", upper=1000)
"""


def _section(result) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if re.match(r"=+ speck-hil =+", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    section = lines[start + 1 : end]
    while section and not section[-1]:
        section.pop()
    return section


def test_default_summary_shows_failures_marginals_and_expected_failures(pytester):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1, xfailed=1)
    section = _section(result)
    text = "\n".join(section)
    assert re.search(r"::test_fails +events_out +0 events +1 ≤ x +fail$", text, re.M)
    assert re.search(r"::test_expected +delay_max +12483 µs +x ≤ 1000 +fail \(expected\)", text)
    assert re.search(r"::test_marginal +wall +0.95 s +x ≤ 1 +marginal$", text, re.M)
    assert "cores" not in text and "delay_p50" not in text  # passes are left out
    rows = [line for line in section if "::test_" in line]
    assert [row.split()[-1] for row in rows] == ["fail", "(expected)", "marginal"]
    assert section[-1] == "5 measurements: 1 fail, 1 fail (expected), 1 marginal, 2 pass"


def test_summary_all_and_none(pytester):
    pytester.makepyfile(SUITE)
    every = "\n".join(_section(pytester.runpytest("--hil-summary", "all")))
    assert "cores" in every and "delay_p50" in every
    quiet = _section(pytester.runpytest("--hil-summary=none"))
    assert not any("::test_" in line for line in quiet)
    assert quiet[-1].startswith("5 measurements: 1 fail")
    result = pytester.runpytest("--hil-summary", "most")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--hil-summary 'most' (from cli): expected one of failed, all, none"]
    )


def test_all_passing_says_so_in_one_line(pytester):
    pytester.makepyfile("def test_ok(measure):\n    measure('x', 1, lower=0)\n")
    assert _section(pytester.runpytest())[-2:] == [
        "no measurement failed or was marginal (--hil-summary all lists them all)",
        "1 measurements: 1 pass",
    ]


def test_a_device_error_is_in_the_tally():
    tests = [
        {"nodeid": "t::a", "outcome": "failed", "device_error": "SIM0000 stopped answering",
         "measurements": [{"name": "x", "value": 1, "unit": "", "limit": "none",
                           "outcome": "pass"}]},
    ]  # fmt: skip
    lines = summary.section(tests)
    assert lines[-1] == "1 measurements: 1 pass; 1 test ended by a device error (not all measured)"
    assert summary.section([{**tests[0], "measurements": []}])[-1] == (
        "0 measurements: none; 1 test ended by a device error (not all measured)"
    )
    assert summary.section([{**tests[0], "device_error": None, "measurements": []}]) == []


CHATTY = """
import warnings

def test_deploys():
    warnings.warn("Layer 0 has pooling and is being monitored. Note that ...", UserWarning)
    warnings.warn("something the lab must see", UserWarning)
"""


def test_sinabs_chatter_is_captured_unless_asked_for(pytester):
    pytester.makepyfile(CHATTY)
    # in a process of its own: this session's own filters would hide it in-process
    asked = pytester.runpytest_subprocess("--hil-chatter").stdout.str()
    assert "has pooling and is being monitored" in asked
    shown = pytester.runpytest("-W", "default::UserWarning").stdout.str()
    assert "has pooling and is being monitored" in shown
    quiet = pytester.runpytest().stdout.str()
    assert "something the lab must see" in quiet
    assert "has pooling and is being monitored" not in quiet


def test_pictures_asked_for_with_nowhere_to_go_warn(pytester):
    pytester.makepyfile("def test_ok(measure):\n    measure('x', 1)\n")
    result = pytester.runpytest("--hil-pictures", "always")
    result.stdout.fnmatch_lines(
        [
            "speck-hil: WARNING: --hil-pictures always (from cli) but no --hil-artifacts: *",
            "WARNING: --hil-pictures always (from cli) but no --hil-artifacts: no picture will "
            "be written; give --hil-artifacts DIR",
        ]
    )
    assert "WARNING" not in pytester.runpytest().stdout.str()  # the default asks for nothing
    assert "WARNING" not in pytester.runpytest("--hil-pictures", "always",
                                               "--hil-artifacts", "a").stdout.str()  # fmt: skip


SHOW_DIR = """
def test_show(recordings_dir, recording):
    print("DIR=" + str(recordings_dir))
    assert len(recording("mine")) > 0
    assert len(recording("poisson_34")) > 0   # shipped with speck-hil
"""


def test_ini_paths_are_taken_from_the_ini_folder(pytester):
    suite = pytester.path / "lab" / "suite"
    shutil.copytree(REPO / "hil" / "data" / "recordings", suite / "recs")
    manifest = suite / "recs" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("[recordings.burst_128]", "[recordings.mine]"))
    (suite / "pytest.ini").write_text("[pytest]\nhil_recordings = recs\nhil_report = out.json\n")
    (suite / "test_show.py").write_text(SHOW_DIR)
    elsewhere = pytester.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(elsewhere)
        # rootdir is where pytest starts; only the ini's folder gives the right answer
        ini = str(suite / "pytest.ini")
        result = pytester.runpytest("-s", "--rootdir", str(elsewhere), "-c", ini, str(suite))
    result.assert_outcomes(passed=1)
    recs = suite / "recs"
    result.stdout.fnmatch_lines(
        [f"speck-hil: recordings {recs}, then the shipped examples", f"*DIR={recs}"]
    )
    assert (suite / "out.json").is_file()


def test_a_run_of_only_skipped_measurements_tallies_them_and_says_n_a():
    from hil.measurement import Measurement

    skipped = Measurement.skip("delay_max", "the device keeps no time", "µs").as_dict()
    lines = summary.section([{"nodeid": "t.py::test", "measurements": [skipped]}], "all")
    assert lines[-1] == "1 measurements: 1 skipped"
    row = next(line for line in lines if "delay_max" in line)
    assert "n/a" in row and "nan" not in row


def test_the_summary_formats_a_value_as_the_measurement_does():
    from hil.measurement import Measurement

    for m in (
        Measurement("synops_peak", 98062412.5, "SynOps/s", upper=5e7),
        Measurement("events_out", 12, "events", lower=1),
        Measurement("cosine", float("nan"), lower=0.9),
    ):
        (row,) = summary.rows([{"nodeid": "t.py::test", "measurements": [m.as_dict()]}])
        assert row[2:4] == (m.value_text(), m.limit_text())
