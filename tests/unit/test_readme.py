"""The README's test examples run as written in a lab's own folder, outside this repository."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_test_examples() -> list[str]:
    """Every ```python block of the README that defines a test."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if re.search(r"^def test_", block, re.M)]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(readme_test_examples())))
def test_readme_test_example_runs_outside_the_repository(index, tmp_path):
    (tmp_path / f"test_readme_{index}.py").write_text(readme_test_examples()[index])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " passed" in output, output
