"""samna.specksim: names only. samna's C++ simulator exists only where real samna is
installed; constructing one of its nodes here says so instead of simulating something else."""

from hil.emulator.samna.specksim import events, nodes

__all__ = ["events", "nodes"]
