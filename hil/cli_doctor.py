"""``speck-hil doctor`` (a board's self-test) and ``speck-hil boards`` (their health)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DEVICE = 3


def add_parsers(commands: argparse._SubParsersAction) -> None:
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
    _lock_dir_option(doctor)
    doctor.set_defaults(command=run_doctor_command)

    boards = commands.add_parser(
        "boards",
        help="list the boards' health (bad, with the reason) across sessions",
        description=(
            "Every board attached here or recorded in the lock folder, with its health, "
            "the last check and the reason it is bad."
        ),
    )
    _lock_dir_option(boards)
    boards.set_defaults(command=list_boards)
    actions = boards.add_subparsers(title="commands", metavar="COMMAND")
    clear = actions.add_parser("clear", help="return a bad board to service")
    clear.add_argument("board", metavar="BOARD", help="SERIAL, TYPE@SERIAL or sim:TYPE@SERIAL")
    _lock_dir_option(clear)
    clear.set_defaults(command=clear_board)


def _lock_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="the lab's lock folder (default: $HIL_LOCK_DIR, else speck-hil-locks in the "
        "system's temporary folder)",
    )


def _store(args: argparse.Namespace):
    from hil.board_health import HealthStore
    from hil.pool import default_lock_dir

    return HealthStore(getattr(args, "lock_dir", None) or default_lock_dir())


def run_doctor_command(args: argparse.Namespace) -> int:
    from hil import backends
    from hil.board_facts import write_facts
    from hil.board_health import BAD, GOOD, board_of, run_name
    from hil.doctor import CHECKS, run_doctor
    from hil.files import unwritable_file

    if args.out is not None and unwritable_file(args.out):
        raise ValueError(f"--out {args.out}: {unwritable_file(args.out)}")
    spec = backends.parse_device_spec(args.device)
    if spec.pool or spec.kind not in ("real", "emulated"):
        raise ValueError(
            f"--device {spec}: doctor tests one devkit (TYPE, TYPE:INDEX, TYPE@SERIAL or sim); "
            f"{spec} is {'a pool' if spec.pool else spec.kind}"
        )
    store = _store(args)
    lease = _lock(spec, store.folder)
    run = run_name("speck-hil doctor" + (" --quick" if args.quick else ""))
    device = None
    try:
        device = backends.open_device(spec, profile=args.profile)
        board = board_of(device.info)
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
            print(f"board {board.serial}: returned to service (doctor passed)", file=sys.stderr)
    else:
        store.mark(board, BAD, report.first_failure(), "doctor", run)
        print(f"board {board.serial}: marked bad ({report.first_failure()})", file=sys.stderr)
    write_facts(store.facts_path(board), report)  # what sessions on this board rest on
    if args.out is not None:
        write_facts(args.out, report)
        print(f"board facts written to {args.out}", file=sys.stderr)
    return 0 if report.passed else EXIT_FAILED


def _lock(spec, lock_dir: Path):
    """The board's lock, held while the doctor runs, so no session drives it meanwhile."""
    from hil.backends import DeviceUnavailable
    from hil.pool import BoardPool, named_board

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


def list_boards(args: argparse.Namespace) -> int:
    from hil.backends import list_devices, parse_device_spec

    store = _store(args)
    recorded = {health.board: health for health in store.all()}
    attached = [d.spec for d in list_devices() if d.kind in ("real", "emulated")]
    names = list(dict.fromkeys([*attached, *recorded]))
    print(f"boards: health in {store.folder}")
    width = max(len(name) for name in names) + 2
    print(f"{'BOARD':<{width}}{'HEALTH':<8}{'LAST CHECK':<27}REASON")
    for name in names:
        health = recorded.get(name) or store.get(parse_device_spec(name))
        where = "" if name in attached else "  (not attached here)"
        if health is None:
            print(f"{name:<{width}}{'good':<8}{'never':<27}never marked bad{where}")
            continue
        reason = f"{health.reason} ({health.check}; {health.run})"
        print(f"{name:<{width}}{health.health:<8}{health.last_check:<27}{reason}{where}")
    return 0


def clear_board(args: argparse.Namespace) -> int:
    from hil.backends import parse_device_spec
    from hil.board_health import GOOD, run_name

    store = _store(args)
    found = store.find(args.board)
    if not found:
        known = ", ".join(h.board for h in store.all()) or "none"
        raise ValueError(
            f"BOARD {args.board!r}: no board of that name has a health record in "
            f"{store.folder} (recorded: {known})"
        )
    if len(found) > 1:
        names = ", ".join(h.board for h in found)
        raise ValueError(f"BOARD {args.board!r} names several boards ({names}); give TYPE@SERIAL")
    (health,) = found
    if not health.bad:
        print(f"{health.board}: already good")
        return 0
    store.mark(
        parse_device_spec(health.board),
        GOOD,
        "cleared by hand",
        "boards clear",
        run_name("speck-hil boards clear"),
    )
    print(f"{health.board}: returned to service (it was bad: {health.reason})")
    return 0
