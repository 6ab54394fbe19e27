"""A fake lab host: the example suite through the *real* samna path on the boards a lab has.

Two Speck2fDevKits without serials (as sinabs' docs list them), a speck2fmodule with a serial
and a DVXplorer are attached at once; the "real" samna is the emulated one installed under
samna's name (a samna that is not PyPI's placeholder counts as real), so ``--device
speck2fdevkit`` takes the path a devkit takes: real-time replays, host locks, the listing.
Each run is a fresh pytest process over a few tests of ``tests/hil`` (the whole suite three
times would cost minutes): each passes, and each board takes its own lock.
"""

import os
import re
from pathlib import Path

import pytest
from pytest_outside import run_pytest

REPO = Path(__file__).resolve().parents[2]
#: Representative device tests of tests/hil: a replay judged on every monitored core, and
#: one that deploys and measures only (cheap on the real-time path: about 1 s per replay).
SUBSET = "test_scnn_34_on_poisson or test_speck2f_has_nine_cores"
BOARDS = "speck2fdevkit,speck2fdevkit,speck2fmodule@LAB0042,dvxplorer"

FAKE_SAMNA = """
import sys

from hil.emulator.install import samna_modules

sys.modules.update(samna_modules())  # `import samna` now gives the emulated devkit's samna
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The environment of a lab host with those boards, and its lock folder."""
    root = tmp_path_factory.mktemp("lab-host")
    site = root / "site"
    for package, text in (("samna", FAKE_SAMNA), ("samnagui", "import samna\n")):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text(text)
    locks = root / "locks"
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "HIL_SIM_DEVKITS": BOARDS,
        "HIL_LOCK_DIR": str(locks),
    }
    return env, locks


def suite(monkeypatch, env, *args: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run_pytest("tests/hil", "-k", SUBSET, "-rA", *args, cwd=REPO)


def boards_leased(output: str) -> set[str]:
    return set(re.findall(r"leased (usb:\d+:\d+|\w+)", output))


@pytest.mark.slow
def test_the_suite_runs_on_a_board_without_a_serial(monkeypatch, lab):
    env, locks = lab
    output = suite(monkeypatch, env, "--device", "speck2fdevkit")
    assert re.search(r"2 passed", output), output
    assert "speck2fdevkit@usb:1:1" in output
    assert "speck2fdevkit@ " not in output and "speck2fdevkit@)" not in output
    assert (locks / "real-speck2fdevkit-usb-1-1.lock").exists()


@pytest.mark.slow
def test_a_pool_of_boards_without_serials_under_xdist(monkeypatch, lab):
    env, locks = lab
    output = suite(monkeypatch, env, "--device", "speck2fdevkit:*", "-n", "2")
    assert re.search(r"2 passed", output), output
    leased = boards_leased(output)
    assert leased and leased <= {"usb:1:1", "usb:1:2"}, output
    assert {path.name for path in locks.glob("real-speck2fdevkit-*.lock")} >= {
        f"real-speck2fdevkit-{board.replace(':', '-')}.lock" for board in leased
    }


@pytest.mark.slow
def test_every_board_without_a_serial_runs_the_suite(monkeypatch, lab):
    env, locks = lab
    output = suite(monkeypatch, env, "--device", "speck2fdevkit:*", "--device-each")
    assert re.search(r"4 passed", output), output
    for board in ("usb:1:1", "usb:1:2"):
        assert f"[{board}]" in output, output
        assert (locks / f"real-speck2fdevkit-{board.replace(':', '-')}.lock").exists()
