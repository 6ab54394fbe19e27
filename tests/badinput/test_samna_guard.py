"""User code that imports sinabs' chip backend before the harness maps a network never
reaches PyPI's placeholder samna (which runs pip when imported): not from a model file given
to the CLI, not from a conftest. Each runs in a fresh process with a placeholder first on the
path; importing it would leave a marker file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER_CODE = """
    import sinabs.backend.dynapcnn  # imports samna
    import sinabs.layers as sl
    from torch import nn


    def build():
        return nn.Sequential(nn.Conv2d(2, 4, 3), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))
    """


def placeholder_samna(root: Path) -> Path:
    """A samna package like PyPI's: importing it writes a marker, then fails."""
    package = root / "site" / "samna"
    package.mkdir(parents=True)
    marker = root / "PLACEHOLDER_IMPORTED"
    (package / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "PYPI_SAMNA = True\n"
        "raise SystemExit('the placeholder would now run pip')\n"
    )
    return marker


def run(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "site"), str(REPO)]))
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_a_model_file_importing_sinabs_gets_the_emulated_samna(tmp_path):
    marker = placeholder_samna(tmp_path)
    (tmp_path / "user_model.py").write_text(textwrap.dedent(USER_CODE))
    result = run(
        ["-m", "hil.cli", "check", "--model", "user_model.py:build", "--input-shape", "2,16,16"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_a_conftest_importing_sinabs_gets_the_emulated_samna(tmp_path):
    marker = placeholder_samna(tmp_path)
    (tmp_path / "conftest.py").write_text(textwrap.dedent(USER_CODE))
    (tmp_path / "test_user.py").write_text(
        "import samna\n\ndef test_samna():\n    assert samna.__name__ == 'hil.emulator.samna'\n"
    )
    result = run(["-m", "pytest", "-p", "no:cacheprovider", "-q"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()
