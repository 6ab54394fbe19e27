"""Make ``import samna`` find the emulator's samna-compatible module where no real samna is.

sinabs imports ``samna`` and ``samnagui`` at the top of ``sinabs.backend.dynapcnn``; with the
emulator's modules in ``sys.modules`` under samna's names, sinabs imports and builds chip
configurations as it would against a real chip.
"""

from __future__ import annotations

import sys
from types import ModuleType

import hil.emulator.samna as emulated_samna
from hil.emulator.detect import detect_samna
from hil.emulator.samna import gui

#: samna's submodules, as placed in ``sys.modules`` ("samna." + name).
SAMNA_SUBMODULES = (
    "device",
    "graph",
    "speck2e",
    "speck2e.configuration",
    "speck2e.event",
    "speck2f",
    "speck2f.configuration",
    "speck2f.event",
    "specksim",
    "specksim.events",
    "specksim.nodes",
)


def install_as_samna() -> bool:
    """Put the emulated samna (and a ``samnagui`` stand-in) into ``sys.modules``.

    Returns True when the emulated samna is (now) what ``import samna`` gives. Does nothing
    and returns False when a real samna is installed, or when some other ``samna`` module is
    already imported: a real chip's samna is never shadowed. Safe to call repeatedly.
    """
    present = sys.modules.get("samna")
    if present is emulated_samna:
        return True
    if present is not None or detect_samna().kind == "real":
        return False
    for name, module in samna_modules().items():
        sys.modules.setdefault(name, module)
    return True


def samna_modules() -> dict[str, ModuleType]:
    """The emulated samna's modules by the names samna's have (``samna``, ``samna.device``,
    ..., ``samnagui``): what ``sys.modules`` must hold for ``import samna...`` to find them."""
    modules: dict[str, ModuleType] = {"samna": emulated_samna, "samnagui": gui}
    for name in SAMNA_SUBMODULES:
        module: ModuleType = emulated_samna
        for part in name.split("."):
            module = getattr(module, part)
        modules[f"samna.{name}"] = module
    return modules
