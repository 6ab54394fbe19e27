"""A doctor run: every check in its order on an open samna device, and the quick run a
session starts with."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from hil.backends.base import DeviceError
from hil.backends.samna_backend import SamnaDevice
from hil.calibration.doctor.bench import Bench
from hil.calibration.doctor.checkup import Checkup
from hil.calibration.doctor.cores import cores, leak, reset
from hil.calibration.doctor.findings import CHECKS, FULL, QUICK, DoctorError, DoctorReport
from hil.calibration.doctor.identity import identity, unplug
from hil.calibration.doctor.power import power
from hil.calibration.doctor.timing import config_write, input_held, read_order, stop_watch

#: The order the checks run in: later ones rest on what earlier ones found.
ORDER = (
    identity,
    stop_watch,
    config_write,
    cores,
    input_held,
    read_order,
    reset,
    leak,
    power,
    unplug,
)


def run_doctor(
    device: Any,
    quick: bool = False,
    on_check: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DoctorReport:
    """Run every check on an open samna ``device``. Raises ``DoctorError`` for a device the
    doctor cannot test, ``DeviceError`` when the board fails while being tested."""
    if not isinstance(device, SamnaDevice):
        raise DoctorError(
            f"{device.info}: doctor tests a devkit through samna (a real one, or sim); "
            f"{device.info.kind} has no board to test"
        )
    started = time.perf_counter()
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report = DoctorReport(device.info, date, quick)
    bench = Bench(device, clock, sleep)
    checkup = Checkup(bench, QUICK if quick else FULL, report, on_check or (lambda _: None))
    try:
        for check in ORDER:
            checkup.on_check(check.__name__)
            check(checkup)
    except DeviceError:
        raise
    except Exception as exc:  # samna raises RuntimeError (and others) for a failing board
        raise DeviceError(str(device.info), f"failed during doctor: {exc}") from exc
    finally:
        report.findings.sort(key=lambda f: (CHECKS.index(f.check), f.core or 0))
        report.device_s = round(bench.device_s, 3)
        report.wall_s = round(time.perf_counter() - started, 3)
    return report


def health_check(device: Any, sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Doctor's quick checks on an open device, for a session that starts: why the board
    is unfit (the first failed check, or the device error), or None when it passed."""
    try:
        report = run_doctor(device, quick=True, sleep=sleep)
    except DeviceError as exc:
        return f"doctor's quick checks: device error: {exc}"
    return None if report.passed else report.first_failure()
