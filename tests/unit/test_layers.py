"""The layers of the tree hold (import-linter's contracts in pyproject.toml), and a contract
breaks when a module imports upwards, so ``make lint`` cannot pass a tree that broke them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "hil", tmp_path / "hil", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_tree_keeps_every_contract(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("recordings/base.py", "import hil.analysis.checks", "hil.recordings is not allowed"),
        ("lab/pool.py", "import pytest", "hil.lab is not allowed to import pytest"),
        ("history/trend.py", "import argparse", "hil.history is not allowed to import argparse"),
    ],
)
def test_a_planted_import_breaks_its_contract(tree, module, line, broken):
    with (tree / "hil" / module).open("a") as f:
        f.write(f"\n{line}\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert broken in result.stdout


def _cycles(graph) -> list[set[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while not group or module not in group:
                group.add(stack.pop())
            if len(group) > 1:
                found.append(group)

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    grimp = pytest.importorskip("grimp")
    assert _cycles(grimp.build_graph("hil")) == []


def test_a_circle_of_imports_is_found():
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    class Graph:
        modules = frozenset(imports)

        def find_modules_directly_imported_by(self, module):
            return imports[module]

    assert _cycles(Graph()) == [{"a", "b", "c"}]
