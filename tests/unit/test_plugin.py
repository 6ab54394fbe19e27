import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHOW_DIR = """
def test_show(recordings_dir):
    print("DIR=" + recordings_dir.name)
"""


@pytest.fixture
def library(pytester):
    for name in ("cli_dir", "env_dir", "ini_dir", "recordings"):
        shutil.copytree(REPO / "recordings", pytester.path / name)
    pytester.makeini("[pytest]\nhil_recordings = ini_dir\n")
    pytester.makepyfile(SHOW_DIR)
    return pytester


def _shown(result) -> str:
    return re.search(r"DIR=(\w+)", result.stdout.str()).group(1)


def test_option_precedence(library, monkeypatch):
    assert _shown(library.runpytest("-s")) == "ini_dir"
    monkeypatch.setenv("HIL_RECORDINGS", "env_dir")
    assert _shown(library.runpytest("-s")) == "env_dir"
    assert _shown(library.runpytest("-s", "--recordings", "cli_dir")) == "cli_dir"


def test_default_is_recordings(pytester):
    pytester.makepyfile(SHOW_DIR)
    assert _shown(pytester.runpytest("-s")) == "recordings"


def test_recording_fixture_by_name_and_path(library):
    library.makepyfile(
        test_load="""
        def test_load(recording):
            assert len(recording("moving_bar_128")) > 1000
            assert recording("ini_dir/poisson_34.h5").sensor_size == (34, 34, 2)
        """
    )
    library.runpytest("test_load.py").assert_outcomes(passed=1)


def test_recording_fixture_refuses_a_changed_file(library):
    (library.path / "ini_dir" / "poisson_34.h5").write_bytes(
        (library.path / "ini_dir" / "burst_128.h5").read_bytes()
    )
    library.makepyfile(
        test_load="""
        def test_load(recording):
            recording("poisson_34")
        """
    )
    result = library.runpytest("test_load.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*poisson_34.h5: sha256 mismatch*"])


def test_options_are_documented_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*speck-hil*", "*--recordings*"])
    assert "HIL_RECORDINGS" in result.stdout.str()


def test_plugin_can_be_disabled(library):
    result = library.runpytest("-p", "no:hil")
    result.stdout.fnmatch_lines(["*fixture 'recordings_dir' not found*"])
