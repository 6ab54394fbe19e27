from hil.emulator.install import install_as_samna as install_as_samna
from hil.emulator.speck import Speck as Speck
