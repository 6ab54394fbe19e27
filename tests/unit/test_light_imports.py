"""Every pytest process (and every xdist worker) imports the plugin: it must stay light.
torch, sinabs and matplotlib load when a device test or a command needs them."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "sinabs", "matplotlib")

HELP = """
from hil.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
"""


def heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.rsplit("LOADED", 1)[1].split()


@pytest.mark.parametrize(
    "code", ["import hil.plugin", HELP, "import hil.backends; hil.backends.list_devices()"]
)
def test_nothing_heavy_at_import(code):
    assert heavy_modules_after(code) == []


def test_the_probe_sees_a_heavy_import():
    assert heavy_modules_after("import matplotlib") == ["matplotlib"]
