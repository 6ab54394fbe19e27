"""The emulated devkit. ``Speck``, the chip model whose loops numba compiles, loads on first
use, so that importing the plugin or detecting samna stays light."""

from typing import TYPE_CHECKING

from hil.emulator.install import install_as_samna as install_as_samna

if TYPE_CHECKING:
    from hil.emulator.speck import Speck as Speck


def __getattr__(name: str):
    if name == "Speck":
        from hil.emulator.speck import Speck

        return Speck
    raise AttributeError(f"module 'hil.emulator' has no attribute {name!r}")
