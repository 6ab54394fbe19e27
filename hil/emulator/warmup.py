"""Compiling the emulator's loops when a device opens, not inside a replay.

numba compiles the event loop on its first call, or loads it from its on-disk cache (several
seconds cold, about half a second warm). A one-core chip run once through every compiled loop
pays that up front, where no replay's deadline or timing sees it.
"""

from __future__ import annotations

import numpy as np

from hil.events import SPIKE_DTYPE

_warm = False


def warm_up() -> None:
    """Compile (or load from numba's cache) the emulator's loops; later calls do nothing."""
    global _warm
    if _warm:
        return
    from hil.emulator.handmade import make_core, make_program
    from hil.emulator.speck import Speck

    core = make_core(0, (1, 2, 2), np.ones((1, 1, 1, 1)), leak_enable=True)
    chip = Speck(make_program(core))
    chip.set_slow_clk_rate(1000.0)
    spikes = np.zeros(2, SPIKE_DTYPE)
    spikes["t"] = [0, 5_000]
    chip.run(spikes, until=10_000)
    _warm = True
