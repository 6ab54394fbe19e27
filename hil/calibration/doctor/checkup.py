"""One doctor run in progress: the board, the plan, the report, and what earlier checks
found that later ones rest on (usable timestamps, a core that fires, the write time)."""

from __future__ import annotations

from collections.abc import Callable

from hil.calibration.doctor.bench import WRITE_TIMEOUT_S, Bench
from hil.calibration.doctor.findings import UNKNOWN, DoctorReport, Finding, Plan

#: Cores tried, in order, for the checks that need one that fires: deterministic ones first.
PREFERRED_CORES = (2, 3, 4, 5, 6, 7, 8, 0, 1)
THRESHOLD_HIGH = 32767  # a neuron that never fires: only reads are judged


class Checkup:
    """The state the checks share; each check is a function of it (``identity``, ``timing``,
    ``cores``, ``power``)."""

    def __init__(
        self, bench: Bench, plan: Plan, report: DoctorReport, on_check: Callable[[str], None]
    ):
        self.bench, self.plan, self.report, self.on_check = bench, plan, report, on_check
        self.timestamps_ok = False
        self.firing_core: int | None = None
        self.write_s = WRITE_TIMEOUT_S  # until config_write measures it
        #: The core of the checks that only read neuron states (a dead core reads too).
        self.read_core = min(PREFERRED_CORES[0], bench.n_cores - 1)

    def add(self, check: str, outcome: str, detail: str, core=None, advice: str = "") -> None:
        self.report.findings.append(Finding(check, outcome, detail, core, advice))

    def cannot(self, check: str, judge_time: bool) -> bool:
        """Say unknown, and True, when ``check`` lacks what it rests on."""
        if self.firing_core is None:
            self.add(check, UNKNOWN, "no core fired (see cores): nothing to judge")
            return True
        if judge_time and not self.timestamps_ok:
            self.add(check, UNKNOWN, "timestamps are not usable (see stop_watch)")
            return True
        return False
