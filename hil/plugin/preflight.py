"""Every option, environment variable and output path of a pytest session, checked before
anything runs.

A bad value found after the first test ran loses work (the run record then holds nothing), and
one found by every test fails all of them for the same reason. So the plugin calls
``check_session_inputs`` when pytest configures it; the first problem ends the session with one
``ERROR:`` line naming the option (or variable) and what is wrong, exit status 4, nothing
written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.environment import check_environment
from hil.files import unwritable_dir, unwritable_file
from hil.plugin.options import option, option_given, option_origin, path_option
from hil.recordings.folders import folder_problem


def check_session_inputs(config: pytest.Config) -> None:
    """Raise ``pytest.UsageError`` for the first bad input."""
    option(config, "hil_pictures")  # refuses a value outside its choices
    option(config, "hil_summary")
    report = path_option(config, "hil_report")
    if report is not None:
        _refuse(unwritable_file(report), option_origin(config, "hil_report"), report)
    artifacts = path_option(config, "hil_artifacts")
    if artifacts is not None:
        _refuse(unwritable_dir(artifacts), option_origin(config, "hil_artifacts"), artifacts)
    recordings = path_option(config, "recordings")
    if recordings is not None:
        # The default folder may be absent (names then come from the shipped examples); a
        # folder the user named must be there, or their own recordings would be missed.
        problem = folder_problem(recordings)
        if problem == "is not a folder" or (problem and option_given(config, "recordings")):
            _refuse(problem, option_origin(config, "recordings"), recordings)
    try:
        check_environment()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _refuse(problem: str | None, name: str, path: Path) -> None:
    if problem:
        raise pytest.UsageError(f"{name} {path}: {problem}")
