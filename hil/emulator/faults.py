"""How the emulated chip has the faults ``[faults]`` gives it (``hil.chip.faults``)."""

from __future__ import annotations

from dataclasses import replace

from hil.emulator.program import ChipProgram, Destination


def silence_dead_cores(program: ChipProgram, dead_cores: tuple[int, ...]) -> ChipProgram:
    """``program`` with ``dead_cores`` never firing: they take inputs (and integrate them)
    but nothing leaves them, neither to the monitor nor to a destination. The caller's
    program is left as it was."""
    if not dead_cores:
        return program
    silent = (Destination(0), Destination(0))
    cores = [
        replace(core, monitor_enable=False, destinations=silent)
        if core.index in dead_cores
        else core
        for core in program.cores
    ]
    return replace(program, cores=cores)
