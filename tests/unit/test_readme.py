"""The README's test examples run as written in a lab's own folder, outside this repository."""

import re
from pathlib import Path

import pytest
from pytest_outside import run_pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_test_examples() -> list[str]:
    """Every ```python block of the README that defines a test."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if re.search(r"^def test_", block, re.M)]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(readme_test_examples())))
def test_readme_test_example_runs_outside_the_repository(index, tmp_path):
    (tmp_path / f"test_readme_{index}.py").write_text(readme_test_examples()[index])
    output = run_pytest("-q", "-rs", tmp_path, cwd=tmp_path)
    assert " passed" in output, output
