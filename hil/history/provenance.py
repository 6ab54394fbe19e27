"""Where a run came from: software versions, host, tested repository, device profile.

A nightly history is only useful when a change in a measurement can be traced to a change in
what was run: a commit, a sinabs or samna upgrade, a new firmware, another host, another
profile. Versions come from the installed distributions' metadata; samna is never imported
(PyPI's placeholder runs pip at import).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from hil.emulator.detect import detect_samna

PACKAGES = {"harness": "speck-hil", "sinabs": "sinabs", "torch": "torch"}


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str | None]:
    """The harness, sinabs, torch and samna versions; samna is "emulated" where only the
    emulator's samna-compatible API can serve (no real samna installed)."""
    versions = {key: package_version(name) for key, name in PACKAGES.items()}
    install = detect_samna()
    versions["samna"] = install.version if install.kind == "real" else "emulated"
    return versions


def host() -> dict[str, str]:
    return {
        "name": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _git(folder: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder``, or None outside a git work tree."""
    return _git(folder, "rev-parse", "HEAD")


def git_state(folder: Path) -> dict[str, str | None] | None:
    """Commit and branch of the repository holding ``folder``; None outside one. The branch
    is None on a detached head."""
    commit = git_commit(folder)
    if commit is None:
        return None
    branch = _git(folder, "symbolic-ref", "--short", "-q", "HEAD")
    return {"commit": commit, "branch": branch}


def harness_git() -> dict[str, str | bool | None] | None:
    """The harness's own commit (and whether its files differ from it) when it runs from a
    git checkout of speck-hil; None when it is installed from a wheel (its version says it
    then). A harness installed inside some other repository (a lab's .venv) is not taken for
    a checkout: its files must be tracked there."""
    package = Path(__file__).resolve().parent
    if _git(package, "ls-files", "--error-unmatch", "provenance.py") is None:
        return None
    state = git_state(package)
    if state is None:
        return None
    dirty = _git(package, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {**state, "dirty": bool(dirty)}


def profile_provenance(profile: Any) -> dict[str, Any]:
    """A device profile by content, not by path: a file edited between two nights gives two
    different hashes. ``budgets_measured`` says whether the SynOps/s budgets came from a
    calibration or are assumed."""
    content = json.loads(json.dumps(dataclasses.asdict(profile), default=str))
    content.pop("source", None)
    text = json.dumps(content, sort_keys=True)
    return {
        "name": profile.name,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "budgets_measured": bool(profile.synops_per_s_measured),
        "content": content,
    }


def emulated_truth(profile: Any) -> dict[str, Any] | None:
    """The physics an emulated devkit of ``profile``'s chip has when ``HIL_SIM_PROFILE``
    chooses them (a noisy chip measures differently); None when it emulates the shipped
    profile."""
    value = os.environ.get("HIL_SIM_PROFILE", "").strip()
    if not value:
        return None
    from hil.emulator.truth import emulated_profile

    return {"HIL_SIM_PROFILE": value, **profile_provenance(emulated_profile(profile.name))}


def session_provenance(folder: Path, profile: Any) -> dict[str, Any]:
    """Everything about a session that does not depend on the device."""
    return {
        "versions": software_versions(),
        "host": host(),
        "git": git_state(folder),
        "harness_git": harness_git(),
        "profile": profile_provenance(profile),
        "emulated_truth": emulated_truth(profile),
    }
