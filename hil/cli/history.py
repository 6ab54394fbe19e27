"""``speck-hil history ...``: import runs, list them, draw trends, find regressions, report.

The store comes from ``--db PATH_OR_URL``, else ``$HIL_HISTORY``. SQLAlchemy, SciPy,
ruptures and matplotlib are imported inside the commands, so ``speck-hil --help`` stays fast.
Bad input (a file, a field, a database) gives one line on stderr and exit status 2; files
imported before a bad one stay stored.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from hil.cli.common import EXIT_BAD_INPUT

HISTORY_ENV = "HIL_HISTORY"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``history`` and its commands with the ``speck-hil`` parser."""
    history = commands.add_parser(
        "history",
        help="the nightly history: import runs, trends, regressions, HTML report",
        description=(
            "The store of past runs (an SQLite file or a database URL, from --db or "
            f"${HISTORY_ENV}) and regression detection over it."
        ),
    )
    sub = history.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help: str, run: Callable) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=help)
        parser.add_argument(
            "--db", metavar="PATH_OR_URL", help=f"the history (default: ${HISTORY_ENV})"
        )
        parser.set_defaults(command=_one_line(run))
        return parser

    imports = command(
        "import",
        "store run records and pytest-benchmark JSON files in the history (a folder: every "
        "*.json under it, e.g. .benchmarks/)",
        _import,
    )
    imports.add_argument("files", nargs="+", type=Path, metavar="FILE")
    command("runs", "list the stored runs, oldest first", _runs)
    trend = command("trend", "draw one series: values over runs, limits, changes", _trend)
    trend.add_argument("series", metavar="TEST::MEASUREMENT")
    trend.add_argument("--out", type=Path, required=True, help="the PNG to write")
    trend.add_argument("--serial", help="the device serial, when the series ran on several")
    trend.add_argument("--profile", help="the profile, when the series ran with several")
    regressions = command(
        "regressions", "every confirmed change of every series (worse, better, changed)", _regr
    )
    regressions.add_argument(
        "--since", type=_date, metavar="DATE", help="changes that started at or after DATE"
    )
    regressions.add_argument("--format", choices=("table", "json"), default="table")
    regressions.add_argument(
        "--open", action="store_true", help="only open regressions (not recovered since)"
    )
    report = command("report", "write a static HTML page with regressions and trends", _report)
    report.add_argument("--out", type=Path, required=True, metavar="DIR")
    report.add_argument("--title", default="speck-hil history")
    for parser in (trend, regressions, report):
        parser.add_argument(
            "--alpha", type=_fraction, default=0.01, help="significance (default 0.01)"
        )
        parser.add_argument(
            "--min-effect",
            type=_fraction,
            default=0.05,
            help="smallest relative change of the median that counts (default 0.05)",
        )


def _one_line(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from hil.history.records import HistoryError

        try:
            return run(args)
        except HistoryError as exc:
            print(f"speck-hil: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return command


def _store(args: argparse.Namespace, create: bool = False):
    from hil.history.records import HistoryError
    from hil.history.store import HistoryStore

    target = args.db or os.environ.get(HISTORY_ENV)
    if not target:
        raise HistoryError(f"no history given: use --db PATH_OR_URL or set ${HISTORY_ENV}")
    return HistoryStore(target, create=create)


def _import(args: argparse.Namespace) -> int:
    from hil.history.records import HistoryError, read_file

    failures = []
    files = []
    for path in args.files:
        found = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        if not found:
            failures.append(f"{path}: a folder without *.json files")
        files += found
    with _store(args, create=True) as store:
        for path in files:
            try:
                entry = read_file(path)
            except HistoryError as exc:
                failures.append(str(exc))
                continue
            stored = store.append(entry)
            what = f"{len(entry.results)} values, started {entry.started.isoformat()}"
            print(f"{path}: {'stored' if stored else 'already stored'} ({what})")
    for failure in failures:
        print(f"speck-hil: error: {failure}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else 0


def _runs(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows = store.runs()
    header = ("started", "source", "host", "serial", "profile", "commit", "harness", "samna", "n")
    table = [
        (
            r.started.strftime("%Y-%m-%d %H:%M:%S"),
            r.source,
            r.host,
            r.serial or "-",
            r.profile or "-",
            (r.git_commit or "-")[:10],
            r.versions["harness"] or "-",
            r.versions["samna"] or "-",
            str(r.results),
        )
        for r in rows
    ]
    _print_table(header, table)
    print(f"{len(rows)} runs")
    return 0


def _trend(args: argparse.Namespace) -> int:
    from hil.history.records import HistoryError
    from hil.history.regressions import series_changes
    from hil.history.trend import plot_trend

    test, sep, measurement = args.series.rpartition("::")
    if not sep or not test or not measurement:
        raise HistoryError(f"series {args.series!r}: expected TEST::MEASUREMENT")
    with _store(args) as store:
        keys = [
            k
            for k in store.series()
            if (k.test, k.measurement) == (test, measurement)
            and args.serial in (None, k.serial)
            and args.profile in (None, k.profile)
        ]
        if not keys:
            raise HistoryError(f"series {args.series!r}: not in the history")
        if len(keys) > 1:
            raise HistoryError(
                f"series {args.series!r} ran on several devices or profiles; choose with "
                f"--serial/--profile: {', '.join(str(k) for k in keys)}"
            )
        points = store.points(keys[0])
    changes = series_changes(points, args.alpha, args.min_effect)
    plot_trend(args.out, keys[0], points, changes)
    print(f"{args.out}: {keys[0]}, {len(points)} runs, {len(changes)} change(s)")
    return 0


def _regr(args: argparse.Namespace) -> int:
    from hil.history.regressions import find

    with _store(args) as store:
        history = store.all_points()
    findings = find(history, args.alpha, args.min_effect, since=args.since)
    if args.open:
        findings = [f for f in findings if f.open and f.is_regression]
    if args.format == "json":
        print(json.dumps([f.as_json() for f in findings], indent=1))
        return 0
    header = (
        "started",
        "series",
        "serial",
        "direction",
        "commit",
        "before",
        "after",
        "p",
        "",
        "what else changed",
    )
    table = [
        (
            f.run.started.strftime("%Y-%m-%d %H:%M"),
            f.key.name,
            f.key.serial or "-",
            f.change.direction,
            (f.run.git_commit or "-")[:10],
            f"{f.change.before:.6g}",
            f"{f.change.after:.6g}",
            f"{f.change.p:.2g}",
            "open" if f.open and f.is_regression else "",
            f.what_changed(),
        )
        for f in findings
    ]
    _print_table(header, table)
    print(f"{len(findings)} change(s) in {len(history)} series")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hil.history.html import write_report

    with _store(args) as store:
        history = store.all_points()
    page = write_report(args.out, history, args.title, args.alpha, args.min_effect)
    print(f"{page}: {len(history)} series")
    return 0


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _date(text: str) -> dt.datetime:
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date, YYYY-MM-DD, got {text!r}") from None
    return time if time.tzinfo else time.replace(tzinfo=dt.timezone.utc)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value
