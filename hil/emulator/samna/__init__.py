"""A samna-compatible module over the emulator.

It mirrors the parts of samna's API that hold configurations and events, with samna's names,
so that sinabs can import ``sinabs.backend.dynapcnn`` and build chip configurations where real
samna is not installed. ``hil.emulator.install_as_samna`` places it in ``sys.modules`` as
``samna``; nothing here ever imports a real samna.
"""

from hil.emulator.samna import device, graph, speck2e, speck2f, specksim

__all__ = ["device", "graph", "speck2e", "speck2f", "specksim"]
