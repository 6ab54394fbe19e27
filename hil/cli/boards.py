"""``speck-hil boards``: every board's health across sessions, and ``boards clear BOARD``."""

from __future__ import annotations

import argparse

from hil.cli.common import EXIT_OK
from hil.cli.doctor import health_store, lock_dir_option


def add_parser(commands: argparse._SubParsersAction) -> None:
    boards = commands.add_parser(
        "boards",
        help="list the boards' health (bad, with the reason) across sessions",
        description=(
            "Every board attached here or recorded in the lock folder, with its health, "
            "the last check and the reason it is bad."
        ),
    )
    lock_dir_option(boards)
    boards.set_defaults(command=list_boards)
    actions = boards.add_subparsers(title="commands", metavar="COMMAND")
    clear = actions.add_parser("clear", help="return a bad board to service")
    clear.add_argument("board", metavar="BOARD", help="SERIAL, TYPE@SERIAL or sim:TYPE@SERIAL")
    lock_dir_option(clear)
    clear.set_defaults(command=clear_board)


def list_boards(args: argparse.Namespace) -> int:
    from hil.backends import list_devices, parse_device_spec

    store = health_store(args)
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
    return EXIT_OK


def clear_board(args: argparse.Namespace) -> int:
    from hil.backends import parse_device_spec
    from hil.lab.health import GOOD, run_name

    store = health_store(args)
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
        return EXIT_OK
    store.mark(
        parse_device_spec(health.board),
        GOOD,
        "cleared by hand",
        "boards clear",
        run_name("speck-hil boards clear"),
    )
    print(f"{health.board}: returned to service (it was bad: {health.reason})")
    return EXIT_OK
