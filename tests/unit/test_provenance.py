"""Provenance: versions from the installed metadata (samna never imported), the tested
repository's commit and branch, the profile by content."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from hil.chip.profile import load_profile
from hil.history.provenance import emulated_truth, git_state, profile_provenance


def test_versions_come_without_importing_samna():
    code = (
        "import sys; from hil.history.provenance import software_versions; "
        "v = software_versions(); "
        "assert 'samna' not in sys.modules, 'samna imported'; print(v['samna'], v['sinabs'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    samna, sinabs = out.split()
    assert samna == "emulated" and sinabs.startswith("3.")


def test_git_commit_and_branch(tmp_path):
    assert git_state(tmp_path) is None
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q", "-b", "nightly"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    state = git_state(tmp_path)
    assert state["branch"] == "nightly" and len(state["commit"]) == 40
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
    assert git_state(tmp_path)["branch"] is None


def test_the_profile_by_content_not_by_path():
    profile = load_profile("speck2f")
    same = profile_provenance(dataclasses.replace(profile, source="elsewhere.toml"))
    first = profile_provenance(profile)
    assert first["sha256"] == same["sha256"]
    faster = dataclasses.replace(profile, synops_per_s=tuple(2 * s for s in profile.synops_per_s))
    assert profile_provenance(faster)["sha256"] != first["sha256"]
    assert first["content"]["synops_per_s"] == list(profile.synops_per_s)
    measured = dataclasses.replace(profile, synops_per_s_measured=True)
    assert profile_provenance(measured)["budgets_measured"] is True


def test_the_emulated_truth_when_hil_sim_profile_chooses_it(monkeypatch):
    profile = load_profile("speck2f")
    monkeypatch.delenv("HIL_SIM_PROFILE", raising=False)
    assert emulated_truth(profile) is None
    monkeypatch.setenv("HIL_SIM_PROFILE", "noisy")
    truth = emulated_truth(profile)
    assert truth["HIL_SIM_PROFILE"] == "noisy"
    assert truth["sha256"] != profile_provenance(profile)["sha256"]


def test_the_harness_commit_when_it_runs_from_a_checkout(tmp_path, monkeypatch):
    from pathlib import Path

    from hil.history import provenance

    package = Path(provenance.__file__).resolve().parent
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:  # a CI clone without .git would have no harness commit
        assert provenance.harness_git() is None
        return
    found = provenance.harness_git()
    assert found["commit"] == head.stdout.strip() and isinstance(found["dirty"], bool)
    assert provenance.session_provenance(tmp_path, load_profile("speck2f"))["harness_git"] == found
    # installed inside another repository (a lab's .venv): its files are not tracked there
    monkeypatch.setattr(provenance, "_git", lambda folder, *args: None)
    assert provenance.harness_git() is None
