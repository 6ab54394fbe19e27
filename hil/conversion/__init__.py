"""SynSense's rate-coded conversion, measured on a device: normalise an ANN, convert it to an
SNN, scale its first layer by each factor, and judge each factor on the chip (accuracy with
its interval, spikes, onset, SynOps/s against the budget, stall, latency, power).

``sweep(device, ann, dataset, factors)`` is the API; ``speck-hil sweep`` and the ``measure``
fixture's ``sweep`` are its faces.
"""

from hil.conversion.choice import choose
from hil.conversion.recipe import Converter
from hil.conversion.results import FactorResult, SweepResult
from hil.conversion.sweep import sweep

__all__ = ["Converter", "FactorResult", "SweepResult", "choose", "sweep"]
