"""The pytest plugin, registered as ``hil`` through the ``pytest11`` entry point.

Disable it with ``pytest -p no:hil``. Every option can be given, in increasing precedence, as
an ini key, an environment variable (so a lab machine's setup beats a repository's ini), or on
the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hil import recordings

_OPTIONS = {
    # dest: (flag, ini key, environment variable, default, help)
    "recordings": (
        "--recordings",
        "hil_recordings",
        recordings.RECORDINGS_ENV,
        "recordings",
        "folder of event recordings with a manifest.toml (default: recordings/)",
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("speck-hil", "speck-hil: hardware-in-the-loop tests for Speck")
    for dest, (flag, ini, env, default, text) in _OPTIONS.items():
        group.addoption(flag, dest=dest, default=None, help=f"{text}; env {env}, ini {ini}")
        parser.addini(ini, help=text, default=default)


def option(config: pytest.Config, dest: str) -> str:
    """An option's value: command line, else environment, else ini, else default."""
    _, ini, env, default, _ = _OPTIONS[dest]
    value = config.getoption(dest)
    if value is None:
        value = os.environ.get(env) or config.getini(ini) or default
    return value


@pytest.fixture(scope="session")
def recordings_dir(pytestconfig: pytest.Config) -> Path:
    """The recordings folder, relative paths taken from the rootdir."""
    return pytestconfig.rootpath / option(pytestconfig, "recordings")


@pytest.fixture
def recording(recordings_dir: Path) -> Callable[..., recordings.Recording]:
    """Load a recording by manifest name (checked against its sha256) or by path.

    ``recording("moving_bar_128")`` or ``recording("data/run3.aedat4")``.
    """

    def load(name_or_path: str | os.PathLike, **kwargs) -> recordings.Recording:
        text = str(name_or_path)
        if os.sep in text or "/" in text or Path(text).suffix:
            return recordings.load(name_or_path, **kwargs)
        return recordings.by_name(text, recordings_dir)

    return load
