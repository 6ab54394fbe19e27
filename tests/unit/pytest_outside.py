"""Running pytest as a lab does: a fresh interpreter, from a folder of the lab's choosing."""

import subprocess
import sys
from pathlib import Path


def run_pytest(*args: str | Path, cwd: Path) -> str:
    """Run ``pytest ARGS`` in a new process started in ``cwd`` and return what it printed;
    a session that did not pass fails the calling test, with that output."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output
