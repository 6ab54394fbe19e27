"""``speck-hil doctor``: a self-test of one board, measuring what no document says about it.

A lab's first hour with a devkit meets questions nobody has published answers to (facts.md
§8): are the timestamps real, are inputs held until they are due, is a read reply ordered
behind them, how long does ``apply_configuration`` take to take effect, does every core
answer, does a reset leave zero states, does the slow clock leak, which power rails report.
Each check here measures one of them through samna's own API (real or emulated) and ends
``pass``, ``fail`` or ``unknown`` with what was seen and, for a fail, what to do.

Every configuration the doctor loads is one neuron per core (or a few), built field by field
with the board's own samna configuration type; its neuron 0 starts from a value no other
configuration of the doctor uses, so a read that returns it proves the configuration is the
one on the chip (how ``apply_configuration``'s write time is measured, and how every check
waits for its configuration). Checks that need a firing core use the first one the cores
check found healthy; checks that judge timestamps say ``unknown`` when the stop watch failed,
so one fault is named by one check.

Measurement windows (the stop watch against the host clock, the leak, idle power) are host
time by nature: they wait through ``sleep``, which tests replace with the emulated devkit's
fake wall clock. Every other wait is bounded by the board's own work. Nothing here knows
about pytest or the command line; ``on_check`` reports progress.
"""

from hil.calibration.doctor.findings import (
    CHECKS,
    FAIL,
    PASS,
    UNKNOWN,
    DoctorError,
    DoctorReport,
    Finding,
)
from hil.calibration.doctor.run import health_check, run_doctor

__all__ = [
    "CHECKS",
    "FAIL",
    "PASS",
    "UNKNOWN",
    "DoctorError",
    "DoctorReport",
    "Finding",
    "health_check",
    "run_doctor",
]
