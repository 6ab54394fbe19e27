"""``speck-hil history ...``: import runs, list runs and series, draw trends, find
regressions and incidents, accept an intended change, report.

The store comes from ``--db PATH_OR_URL``, else ``$HIL_HISTORY``. SQLAlchemy, SciPy and
matplotlib are imported inside the commands, so ``speck-hil --help`` stays fast.
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

from hil.cli.common import EXIT_BAD_INPUT, refuse_unwritable, refuse_unwritable_dir

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
    series = command(
        "series", "list the stored series (TEST::MEASUREMENT [SERIAL PROFILE])", _series
    )
    series.add_argument(
        "pattern", nargs="?", metavar="PATTERN", help="a shell pattern or a part of the name"
    )
    trend = command("trend", "draw one series: values over runs, limits, changes", _trend)
    trend.add_argument("series", metavar="TEST::MEASUREMENT")
    trend.add_argument("--out", type=Path, required=True, help="the PNG to write")
    regressions = command(
        "regressions",
        "every confirmed change of every series: direction, state (open, recovered, accepted, "
        "better, recovery), incident",
        _regr,
    )
    regressions.add_argument(
        "--since", type=_date, metavar="DATE", help="changes that started at or after DATE"
    )
    regressions.add_argument("--format", choices=("table", "json"), default="table")
    regressions.add_argument(
        "--open", action="store_true", help="only open findings (not recovered nor accepted)"
    )
    incidents = command(
        "incidents",
        "changes that started in one run on one board, as one: state (open, recovered, "
        "accepted with who, when and why), series, tests, what else changed",
        _incidents,
    )
    incidents.add_argument("--format", choices=("table", "json"), default="table")
    incidents.add_argument("--open", action="store_true", help="only open incidents")
    accept = command(
        "accept",
        "accept an intended change (an incident by its id, or a series' open change): it "
        "becomes the new baseline and no longer fails --hil-fail-on-regression",
        _accept,
    )
    accept.add_argument("target", metavar="SERIES_OR_INCIDENT")
    accept.add_argument("--reason", required=True, help="why the change is intended")
    accept.add_argument("--who", help="who accepts it (default: $USER)")
    report = command("report", "write a static HTML page with incidents and trends", _report)
    report.add_argument("--out", type=Path, required=True, metavar="DIR")
    report.add_argument("--title", default="speck-hil history")
    for parser in (trend, accept):
        parser.add_argument("--serial", help="the device serial, when the series ran on several")
        parser.add_argument("--profile", help="the profile, when the series ran with several")
    for parser in (trend, regressions, incidents, accept, report):
        parser.add_argument(
            "--alpha", type=_fraction, default=0.01, help="significance (default 0.01)"
        )
        parser.add_argument(
            "--min-effect",
            type=_fraction,
            default=0.05,
            help="smallest relative change of the median that counts, where the level is "
            "far from zero (default 0.05)",
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
            what = f"{len(entry.results)} values, started {entry.started.isoformat()}"
            if store.append(entry):
                print(f"{path}: stored ({what})")
                if entry.ended is None and entry.source == "run record":
                    print(f"speck-hil: warning: {_unfinished(path, entry)}", file=sys.stderr)
                continue
            differ = store.differences(entry)
            if differ:
                failures.append(
                    f"{path}: run {entry.run_id} is stored already and this file differs in "
                    f"{', '.join(differ)}; refused, the stored run is kept"
                )
            else:
                print(f"{path}: already stored ({what})")
    for failure in failures:
        print(f"speck-hil: error: {failure}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else 0


def _unfinished(path: Path, entry) -> str:
    return (
        f"{path}: session.ended is null (the session was killed before it ended): stored as "
        f"an incomplete run with the {len(entry.results)} values of the tests that finished "
        "(`history runs` shows it)"
    )


def _runs(args: argparse.Namespace) -> int:
    with _store(args) as store:
        history = store.load(keys=set())
    header = (
        "started",
        "source",
        "host",
        "serial",
        "profile",
        "commit",
        "harness",
        "harness commit",
        "samna",
        "emulated truth",
        "end",
        "n",
    )
    table = [
        (
            r.started.strftime("%Y-%m-%d %H:%M:%S"),
            r.source,
            r.host,
            r.serial or "-",
            r.profile or "-",
            (r.git_commit or "-")[:10],
            r.versions["harness"] or "-",
            (r.harness_commit or "-")[:10],
            r.versions["samna"] or "-",
            r.emulated_truth or "-",
            r.state,
            str(r.results),
        )
        for r in history.runs
    ]
    _print_table(header, table)
    print(f"{len(history.runs)} runs")
    return 0


def _series(args: argparse.Namespace) -> int:
    from hil.history.names import matching

    with _store(args) as store:
        keys = matching(store.series(), args.pattern)
    for key in keys:
        print(str(key))
    print(f"{len(keys)} series")
    return 0


def _resolved(args: argparse.Namespace, store, name: str):
    """The one series ``name`` means, or a clear refusal."""
    from hil.history.names import resolve
    from hil.history.records import HistoryError

    keys = resolve(store.series(), name, args.serial, args.profile)
    if len(keys) > 1:
        raise HistoryError(
            f"series {name!r} ran on several devices or profiles; choose with "
            f"--serial/--profile: {', '.join(str(k) for k in keys)}"
        )
    return keys[0]


def _trend(args: argparse.Namespace) -> int:
    from hil.history.regressions import series_findings
    from hil.history.trend import plot_trend

    refuse_unwritable(args.out, "--out")
    with _store(args) as store:
        key = _resolved(args, store, args.series)
        history = store.load(keys={key})
        acceptances = store.acceptances()
    series = history.series[key]
    findings = series_findings(history, series, acceptances, args.alpha, args.min_effect)
    plot_trend(args.out, history, series, findings)
    print(f"{args.out}: {key}, {len(series.values)} runs, {len(findings)} change(s)")
    return 0


def _assessment(args: argparse.Namespace):
    from hil.history.incidents import assess

    with _store(args) as store:
        history = store.load()
        acceptances = store.acceptances()
    return history, assess(history, acceptances, args.alpha, args.min_effect)


def _regr(args: argparse.Namespace) -> int:
    history, assessment = _assessment(args)
    findings = assessment.findings
    if args.since is not None:
        findings = [f for f in findings if f.run.started >= args.since]
    if args.open:
        findings = [f for f in findings if f.state == "open"]
    if args.format == "json":
        print(json.dumps([f.as_json() for f in findings], indent=1))
        return 0
    header = (
        "started",
        "series",
        "serial",
        "direction",
        "state",
        "incident",
        "commit",
        "before",
        "after",
        "effect",
        "p",
        "what else changed",
    )
    table = [
        (
            f.run.started.strftime("%Y-%m-%d %H:%M"),
            f.key.name,
            f.key.serial or "-",
            f.change.direction,
            _state_text(f),
            f.incident or "-",
            (f.run.git_commit or "-")[:10],
            f"{f.change.before:.6g}",
            f"{f.change.after:.6g}",
            f.change.effect_text(f.unit),
            f"{f.change.p:.2g}",
            f.what_changed(),
        )
        for f in findings
    ]
    _print_table(header, table)
    print(
        f"{len(findings)} change(s) in {len(history.series)} series; "
        f"{assessment.count_text()} failing the gate"
    )
    return 0


def _state_text(finding) -> str:
    if finding.closed is not None:
        return f"recovered {finding.closed.started:%Y-%m-%d}"
    if finding.acceptance is not None:
        return f"accepted {finding.acceptance.at:%Y-%m-%d}"
    return finding.state


def _incidents(args: argparse.Namespace) -> int:
    _, assessment = _assessment(args)
    incidents = assessment.open if args.open else assessment.incidents
    if args.format == "json":
        print(json.dumps([i.as_json() for i in incidents], indent=1))
        return 0
    for incident in incidents:
        print(incident.summary())
        for finding in incident.findings:
            c = finding.change
            print(
                f"    {finding.key.name}: {c.direction}, {c.before:.6g} -> {c.after:.6g} "
                f"{finding.unit} ({c.effect_text(finding.unit)}, p={c.p:.2g}), "
                f"{_state_text(finding)}".replace("  ", " ")
            )
    print(f"{len(incidents)} incident(s); {assessment.count_text()} failing the gate")
    return 0


def _accept(args: argparse.Namespace) -> int:
    from hil.history.incidents import assess
    from hil.history.records import HistoryError

    who = args.who or os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
    with _store(args) as store:
        history = store.load()
        assessment = assess(history, store.acceptances(), args.alpha, args.min_effect)
        by_id = {i.id: i for i in assessment.incidents}
        if args.target in by_id:
            incident = by_id[args.target]
            chosen = [f for f in incident.findings if f.state == "open"]
            if not chosen:
                raise HistoryError(f"incident {incident.id} is {incident.state}: nothing to accept")
        else:
            key = _resolved(args, store, args.target)
            chosen = [f for f in assessment.findings if f.key == key and f.state == "open"]
            if not chosen:
                raise HistoryError(f"series {key}: no open change to accept")
            chosen = chosen[-1:]
        for finding in chosen:
            series = history.series[finding.key]
            through = history.runs[int(series.runs[-1])].started
            store.accept(
                [finding.key], finding.run.run_id, through, who, args.reason, finding.incident
            )
    for finding in chosen:
        print(
            f"accepted {finding.key} (incident {finding.incident}, since "
            f"{finding.run.started:%Y-%m-%d %H:%M}): {args.reason} ({who})"
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from hil.history.html import write_report

    refuse_unwritable_dir(args.out, "--out")
    with _store(args) as store:
        history = store.load()
        acceptances = store.acceptances()
    page = write_report(
        args.out,
        history,
        acceptances,
        args.title,
        args.alpha,
        args.min_effect,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    print(f"{page}: {len(history.series)} series")
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
