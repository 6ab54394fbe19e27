"""``speck-hil doctor``: a board's self-test (``hil.calibration.doctor``), its table or JSON, its
board facts, and the board's health in the lock folder (``hil.lab.health``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.cli.common import EXIT_FAILED, EXIT_OK, refuse_unwritable


def add_parser(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="self-test one board: timestamps, held inputs, read order, configuration write "
        "time, every core, reset, leak, power",
        description=(
            "Measure what no document says about a board: each check ends pass, fail or "
            "unknown, with what was seen and, for a fail, what to do. A board that fails is "
            "marked bad in the lock folder (skipped by pools and --device until `speck-hil "
            "boards clear`); one that passes is returned to service. Exit status 0 when no "
            "check fails, 1 on a fail, 3 on a device error, 2 on bad input."
        ),
    )
    doctor.add_argument("--device", default="sim", help="the board (default: sim)")
    doctor.add_argument("--out", type=Path, help="write the board facts (TOML) to this file")
    doctor.add_argument("--format", choices=("table", "json"), default="table")
    doctor.add_argument(
        "--quick", action="store_true", help="the short checks (under a second of device time)"
    )
    doctor.add_argument("--profile", type=Path, help="device profile override (TOML)")
    lock_dir_option(doctor)
    doctor.set_defaults(command=run_doctor_command)


def lock_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--lock-dir``: where the boards' locks and health live."""
    parser.add_argument(
        "--lock-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="the lab's lock folder (default: $HIL_LOCK_DIR, else speck-hil-locks in the "
        "system's temporary folder)",
    )


def health_store(args: argparse.Namespace):
    """The health files in ``--lock-dir`` (else ``HIL_LOCK_DIR``, else the default)."""
    from hil.lab.health import HealthStore
    from hil.lab.pool import default_lock_dir

    return HealthStore(getattr(args, "lock_dir", None) or default_lock_dir())


def run_doctor_command(args: argparse.Namespace) -> int:
    from hil import backends
    from hil.backends.samna_backend import SamnaDevice
    from hil.backends.samna_boards import board_id
    from hil.calibration.board_facts import write_facts
    from hil.calibration.doctor import CHECKS, run_doctor
    from hil.lab.health import BAD, GOOD, board_of, run_name

    if args.out is not None:
        refuse_unwritable(args.out, "--out")
    spec = backends.parse_device_spec(args.device)
    if spec.pool or spec.kind not in ("real", "emulated"):
        raise ValueError(
            f"--device {spec}: doctor tests one devkit (TYPE, TYPE:INDEX, TYPE@SERIAL or sim); "
            f"{spec} is {'a pool' if spec.pool else spec.kind}"
        )
    store = health_store(args)
    lease = _lock(spec, store.folder)
    run = run_name("speck-hil doctor" + (" --quick" if args.quick else ""))
    device = None
    try:
        device = backends.open_device(spec, profile=args.profile)
        if not isinstance(device, SamnaDevice):
            raise ValueError(f"--device {spec}: doctor tests a devkit through samna")
        board = board_of(device.info, board_id(device.board().device_info))
        print(f"doctor: {device.info}", file=sys.stderr)
        try:
            report = run_doctor(device, quick=args.quick, on_check=_progress(CHECKS))
        except backends.DeviceError as exc:
            store.mark(board, BAD, str(exc), "doctor", run)
            raise
    finally:
        if device is not None:
            device.close()
        if lease is not None:
            lease.release()
    if args.format == "json":
        print(json.dumps([finding.as_dict() for finding in report.findings], indent=1))
    else:
        _print_table(report)
    if report.passed:
        if store.mark(board, GOOD, "doctor passed", "doctor", run):
            print(f"board {board.board_id}: returned to service (doctor passed)", file=sys.stderr)
    else:
        store.mark(board, BAD, report.first_failure(), "doctor", run)
        print(f"board {board.board_id}: marked bad ({report.first_failure()})", file=sys.stderr)
    write_facts(store.facts_path(board), report)  # what sessions on this board rest on
    if args.out is not None:
        write_facts(args.out, report)
        print(f"board facts written to {args.out}", file=sys.stderr)
    return EXIT_OK if report.passed else EXIT_FAILED


def _lock(spec, lock_dir: Path):
    """The board's lock, held while the doctor runs, so no session drives it meanwhile."""
    from hil.backends import DeviceUnavailable
    from hil.lab.pool import BoardPool, named_board

    board = named_board(spec)
    if board is None:
        return None
    pool = BoardPool(str(spec), [board], lock_dir)
    lease = pool.try_lease()
    if lease is None:
        raise DeviceUnavailable(str(spec), f"{pool.busy()}: run doctor when it is free")
    return lease


def _progress(checks: tuple[str, ...]):
    done = []

    def say(check: str) -> None:
        done.append(check)
        print(f"doctor: [{len(done)}/{len(checks)}] {check}", file=sys.stderr, flush=True)

    return say


def _print_table(report) -> None:
    width = max(len(_name(f)) for f in report.findings) + 2
    print(f"{'CHECK':<{width}}{'OUTCOME':<9}DETAIL")
    for finding in report.findings:
        print(f"{_name(finding):<{width}}{finding.outcome:<9}{finding.text}")
    counts = {o: sum(f.outcome == o for f in report.findings) for o in ("pass", "fail", "unknown")}
    print(
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['unknown']} unknown; "
        f"{report.device_s:.2f} s of device time, {report.wall_s:.2f} s here"
    )


def _name(finding) -> str:
    return f"{finding.check} {finding.core}" if finding.core is not None else finding.check
