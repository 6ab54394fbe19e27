"""``import samna`` never reaches PyPI's placeholder, whoever imports it first.

The placeholder runs ``pip install --force-reinstall`` when imported, and sinabs imports samna
as soon as anything imports ``sinabs.backend.dynapcnn``: a conftest, a test module, a model
file given to ``--model``. So the plugin (when pytest loads it) and the CLI (when it starts)
put a finder at the front of ``sys.meta_path`` before any user code runs. Installing it costs
nothing: it imports no emulator, no torch, no sinabs. Only when something imports ``samna``
does it look at what is installed, without importing it (``hil.emulator.detect``): a real
samna is imported as usual; otherwise the emulated samna is what ``import samna`` gives.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType

_NAMES = ("samna", "samnagui")


class SamnaFinder:
    """Answers ``import samna`` (and ``samnagui``) with the emulated samna unless a real one
    is installed; answers nothing else."""

    def __init__(self) -> None:
        self._found: dict[str, ModuleType] = {}
        self._own_specs: dict[int, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] not in _NAMES:
            return None
        from hil.emulator.install import install_as_samna

        if not install_as_samna():  # a real samna, or some samna already imported
            return None
        # install_as_samna placed the emulated modules in sys.modules; the import system
        # places this one itself, through create_module.
        module = sys.modules.pop(name, None)
        if module is None:
            return None  # not a part of samna the emulator provides: a normal ImportError
        self._found[name] = module
        return importlib.machinery.ModuleSpec(name, self, is_package=hasattr(module, "__path__"))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = self._found.pop(spec.name)
        self._own_specs[id(module)] = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module is the emulator's, imported already: it keeps its own spec."""
        module.__spec__ = self._own_specs.pop(id(module))


def guard_samna_import() -> None:
    """Put the finder first in ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, SamnaFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SamnaFinder())
