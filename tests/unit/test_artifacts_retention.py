"""Artifacts retention: a test's folder emptied when it runs again, only failed tests'
files with ``--hil-artifacts-keep failed``, the last N runs with ``--hil-artifacts-keep N``."""

from __future__ import annotations

import pytest

from hil.plugin.artifacts import folder_for, parse_keep, prune_runs, run_folder_name

# The tests put a file where the harness keeps their artifacts (a replay would, at the
# cost of compiling the emulator); the harness must treat it as theirs.
SUITE = """
import os
from pathlib import Path
from hil.plugin.artifacts import folder_for

def _artifact(request, name):
    root = Path(os.environ["ARTIFACTS_ROOT"])
    folder = folder_for(root, request.node.nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("x")

def test_passes(request):
    _artifact(request, "run0-outputs.h5")

def test_fails(request):
    _artifact(request, "run0-outputs.h5")
    assert False
"""


@pytest.fixture(autouse=True)
def _lean(monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:benchmark -p no:xdist")
    for name in ("HIL_ARTIFACTS", "HIL_ARTIFACTS_KEEP", "HIL_HISTORY"):
        monkeypatch.delenv(name, raising=False)


def test_keep_failed_and_stale_files(pytester, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    root = pytester.path / "art"
    monkeypatch.setenv("ARTIFACTS_ROOT", str(root))
    stale = folder_for(root, "test_suite.py::test_fails") / "run0-delay.png"
    stale.parent.mkdir(parents=True)
    stale.write_text("last night's failure picture")
    result = pytester.runpytest("--hil-artifacts", "art", "--hil-artifacts-keep", "failed")
    result.assert_outcomes(passed=1, failed=1)
    assert not stale.exists()  # removed when the test ran again
    assert (folder_for(root, "test_suite.py::test_fails") / "run0-outputs.h5").exists()
    assert not folder_for(root, "test_suite.py::test_passes").exists()


def test_keep_the_last_runs(pytester, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    root = pytester.path / "art"
    monkeypatch.setenv("ARTIFACTS_ROOT", str(root))
    (root / "run-20000101000000-old").mkdir(parents=True)
    (root / "run-20000102000000-old").mkdir(parents=True)
    (root / "notes").mkdir()  # not a run folder: left alone
    result = pytester.runpytest("--hil-artifacts", "art", "--hil-artifacts-keep", "2")
    assert result.ret == 1
    # this run's folder (made on its first artifact) and the newest earlier one are kept
    runs = sorted(p.name for p in root.iterdir() if p.name.startswith("run-"))
    assert runs == ["run-20000102000000-old"] and (root / "notes").is_dir()
    refused = pytester.runpytest("--hil-artifacts", "art", "--hil-artifacts-keep", "0")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hil-artifacts-keep: expected 'failed' or a number" in refused.stderr.str()


def test_run_folders_sort_by_start_and_prune_keeps_the_newest(tmp_path):
    assert parse_keep(None) is None and parse_keep("failed") == "failed" and parse_keep("3") == 3
    for bad in ("0", "-1", "some"):
        with pytest.raises(ValueError):
            parse_keep(bad)
    names = [run_folder_name(f"2026-01-0{d}T02:00:00.000+00:00", f"{d}" * 32) for d in (1, 2, 3)]
    assert names == sorted(names)
    for name in names:
        (tmp_path / name).mkdir()
    removed = prune_runs(tmp_path, 2, current="run-20260104020000-44444444")
    assert [p.name for p in removed] == names[:2]
    assert [p.name for p in tmp_path.iterdir()] == [names[2]]
