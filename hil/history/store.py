"""The store of past runs: an SQLite file by default, any SQLAlchemy URL for a lab's server.

Runs are only ever added, each in one transaction, so a run is stored whole or not at all and
nothing stored earlier is touched. A run's ``run_id`` is unique: importing the same record
twice stores it once. Several processes (several lab hosts) may append at once: SQLite
serialises the writers with its file lock (the busy timeout makes them wait instead of
failing), a server does so with its transactions.

A series is one measurement of one test on one device serial and profile; its points are
ordered by their run's start time. A measurement whose better direction is "target" keeps
its target in the ``better`` column as ``target=VALUE``.

Acceptances (``hil_accepts``) are the only rows ever added outside a run: a lab's word that
a change of a series was intended, who said it, when and why.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from hil.history.integrity import sqlite_problem
from hil.history.records import HistoryError, RunEntry
from hil.history.series import History, RunInfo, Series, SeriesKey

R = TypeVar("R")

SCHEMA_VERSION = 1
SQLITE_BUSY_TIMEOUT_S = 60.0

metadata = sa.MetaData()

runs = sa.Table(
    "hil_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(200), nullable=False, unique=True),
    sa.Column("started", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("ended", sa.DateTime(timezone=True)),
    sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("exitstatus", sa.Integer),
    sa.Column("host", sa.Text, nullable=False, default=""),
    sa.Column("git_commit", sa.Text),
    sa.Column("git_branch", sa.Text),
    sa.Column("harness_version", sa.Text),
    sa.Column("sinabs_version", sa.Text),
    sa.Column("torch_version", sa.Text),
    sa.Column("samna_version", sa.Text),
    sa.Column("device_type", sa.Text, nullable=False, default=""),
    sa.Column("serial", sa.Text, nullable=False, default=""),
    sa.Column("logic_version", sa.Text),
    sa.Column("profile", sa.Text, nullable=False, default=""),
    sa.Column("profile_sha256", sa.Text),
    sa.Column("budgets_measured", sa.Boolean),
    sa.Column("provenance", sa.Text, nullable=False),  # JSON: everything the source said
)

results = sa.Table(
    "hil_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run", sa.Integer, sa.ForeignKey("hil_runs.id"), nullable=False, index=True),
    sa.Column("test", sa.Text, nullable=False),
    sa.Column("measurement", sa.Text, nullable=False),
    sa.Column("serial", sa.Text, nullable=False),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("value", sa.Float),  # NULL: not a number
    sa.Column("unit", sa.Text, nullable=False, default=""),
    sa.Column("lower", sa.Float),
    sa.Column("upper", sa.Float),
    sa.Column("marginal", sa.Float),
    sa.Column("outcome", sa.Text, nullable=False, default=""),
    sa.Column("better", sa.Text),
    sa.Index("ix_hil_results_series", "test", "measurement", "serial", "profile"),
)

replays = sa.Table(
    "hil_replays",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run", sa.Integer, sa.ForeignKey("hil_runs.id"), nullable=False, index=True),
    sa.Column("test", sa.Text, nullable=False),
    sa.Column("recording", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text),
    sa.Column("config_hash", sa.Text),
)

accepts = sa.Table(
    "hil_accepts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("test", sa.Text, nullable=False),
    sa.Column("measurement", sa.Text, nullable=False),
    sa.Column("serial", sa.Text, nullable=False),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("change_run", sa.String(200), nullable=False),  # first run after the change
    sa.Column("through", sa.DateTime(timezone=True), nullable=False),  # latest run then
    sa.Column("incident", sa.Text),
    sa.Column("who", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

meta = sa.Table(
    "hil_meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Point:
    """One value of a series, with the run it came from."""

    run_id: str
    started: dt.datetime
    value: float | None
    unit: str
    lower: float | None
    upper: float | None
    marginal: float | None
    better: str | None
    git_commit: str | None
    versions: dict[str, str | None]
    host: str = ""
    logic_version: str | None = None
    profile_sha256: str | None = None
    target: float | None = None


@dataclass(frozen=True)
class RunRow:
    run_id: str
    started: dt.datetime
    source: str
    host: str
    git_commit: str | None
    git_branch: str | None
    serial: str
    profile: str
    versions: dict[str, str | None]
    results: int
    exitstatus: int | None


def database_url(path_or_url: str) -> str:
    """A URL as given (``postgresql://`` uses psycopg 3), or a path as an SQLite URL."""
    text = str(path_or_url)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return text


class HistoryStore:
    """The history at ``path_or_url``. ``create`` makes the file and tables when absent;
    without it a missing history is an error (reading commands never create one).
    ``waiting`` is told in one line when opening waits for another process's lock (by
    default that line goes to stderr)."""

    def __init__(
        self,
        path_or_url: str,
        create: bool = True,
        waiting: Callable[[str], None] | None = None,
    ):
        self.url = database_url(path_or_url)
        try:
            url = sa.make_url(self.url)
        except sa_exc.ArgumentError:
            raise HistoryError(f"history {path_or_url!r}: not a path or a database URL") from None
        self.shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite":
            problem = sqlite_problem(url.database, create, meta.name, waiting or _to_stderr)
            if problem:
                raise HistoryError(f"history {url.database or self.shown}: {problem}")
            path = Path(url.database)
            if not create and not path.is_file():
                raise HistoryError(f"history {path}: no such file")
            if create:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise HistoryError(f"history {path}: cannot create its folder: {exc}") from None
        try:
            self.engine = sa.create_engine(url, **_engine_options(url))
        except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
            raise HistoryError(f"history {self.shown}: {_first_line(exc)}") from None
        with self._errors("open"):
            if create:
                self._create()
            self._check_schema()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            cause = _first_line(getattr(exc, "orig", None) or exc)
            raise HistoryError(f"history {self.shown}: cannot {doing}: {cause}") from None

    def _create(self) -> None:
        # Two processes creating the schema at once: the slower one fails on a table the
        # other just made; checking again then finds everything in place.
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                with self.engine.begin() as connection:
                    stored = connection.execute(
                        sa.select(meta.c.value).where(meta.c.key == "schema_version")
                    ).scalar()
                    if stored is None:
                        connection.execute(
                            meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                        )
                return
            except (sa_exc.OperationalError, sa_exc.ProgrammingError, sa_exc.IntegrityError):
                if attempt == 2:
                    raise

    def _check_schema(self) -> None:
        if not sa.inspect(self.engine).has_table(meta.name):
            raise HistoryError(f"history {self.shown}: holds no speck-hil history")
        with self.engine.connect() as connection:
            stored = connection.execute(
                sa.select(meta.c.value).where(meta.c.key == "schema_version")
            ).scalar()
        if stored is None or int(stored) > SCHEMA_VERSION:
            raise HistoryError(
                f"history {self.shown}: schema version {stored}, this speck-hil reads "
                f"{SCHEMA_VERSION}; upgrade speck-hil"
            )

    def append(self, entry: RunEntry) -> bool:
        """Store a run, whole, in one transaction. False when it is stored already."""
        with self._errors("store a run"):
            try:
                with self.engine.begin() as connection:
                    self._insert(connection, entry)
            except sa_exc.IntegrityError:
                if self._has_run(entry.run_id):
                    return False
                raise
        return True

    def differences(self, entry: RunEntry) -> list[str]:
        """What the stored run of ``entry.run_id`` says otherwise than ``entry`` (the fields,
        or how many values differ); empty when it is the same run (from any source)."""
        with self._errors("read a run"), self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(runs).where(runs.c.run_id == entry.run_id))
                .mappings()
                .first()
            )
            if row is None:
                return []
            stored = connection.execute(
                sa.select(*_RESULT_FIELDS).where(results.c.run == row["id"])
            ).all()
        differ = [
            name
            for name, value in _run_fields(entry).items()
            if (_utc(row[name]) if isinstance(row[name], dt.datetime) else row[name]) != value
        ]
        mine = sorted(map(repr, _result_rows(entry)))
        theirs = sorted(repr(tuple(r)) for r in stored)
        if mine != theirs:
            other = sum(1 for r in mine if r not in set(theirs))
            differ.append(f"values ({other} of {len(mine)} not among the {len(theirs)} stored)")
        return differ

    def _has_run(self, run_id: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(sa.select(runs.c.id).where(runs.c.run_id == run_id))
            return found.first() is not None

    def _insert(self, connection: sa.Connection, entry: RunEntry) -> None:
        row = connection.execute(
            runs.insert().values(
                **_run_fields(entry),
                run_id=entry.run_id,
                stored=dt.datetime.now(dt.timezone.utc),
                source=entry.source,
                provenance=json.dumps(
                    {"versions": entry.versions, **entry.provenance},
                    default=str,
                    ensure_ascii=False,
                ),
            )
        )
        run_pk = row.inserted_primary_key[0]
        if entry.results:
            names = [c.name for c in _RESULT_FIELDS]
            connection.execute(
                results.insert(),
                [{"run": run_pk, **dict(zip(names, r, strict=True))} for r in _result_rows(entry)],
            )
        if entry.replays:
            connection.execute(
                replays.insert(),
                [
                    {
                        "run": run_pk,
                        "test": r.test,
                        "recording": r.recording,
                        "sha256": r.sha256,
                        "config_hash": r.config_hash,
                    }
                    for r in entry.replays
                ],
            )

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        count = (
            sa.select(sa.func.count(results.c.id))
            .where(results.c.run == runs.c.id)
            .scalar_subquery()
        )
        query = sa.select(runs, count.label("n_results")).order_by(runs.c.started, runs.c.id)
        return [
            _from_row(
                RunRow,
                row,
                started=_utc(row["started"]),
                versions=_versions(row),
                results=row["n_results"],
            )
            for row in self._rows("read the runs", query)
        ]

    def series(self) -> list[SeriesKey]:
        query = sa.select(
            results.c.test, results.c.measurement, results.c.serial, results.c.profile
        ).distinct()
        with self._errors("read the series"), self.engine.connect() as connection:
            keys = [SeriesKey(*row) for row in connection.execute(query)]
        return sorted(keys, key=lambda k: (k.test, k.measurement, k.serial, k.profile))

    def points(self, key: SeriesKey) -> list[Point]:
        """The series' values, ordered by their run's start time."""
        query = (
            sa.select(results, runs)
            .join(runs, results.c.run == runs.c.id)
            .where(
                results.c.test == key.test,
                results.c.measurement == key.measurement,
                results.c.serial == key.serial,
                results.c.profile == key.profile,
            )
            .order_by(runs.c.started, runs.c.id, results.c.id)
        )
        return [
            _from_row(
                Point,
                row,
                started=_utc(row["started"]),
                versions=_versions(row),
                better=_better(row["better"])[0],
                target=_better(row["better"])[1],
            )
            for row in self._rows("read a series", query)
        ]

    def load(self, keys: set[SeriesKey] | None = None) -> History:
        """Every run and every series (or only ``keys``), fast at a lab's scale: the series
        with the ids of their values in one grouped pass over their index, then the values
        in one scan in storage order (an index-ordered read jumps around the file and costs
        five times as much) straight into a NumPy array (four Python strings per value
        would be most of the time); the latest stored value of each series says its unit,
        limits and direction (``hil.history.series``)."""
        with self._errors("read the history"), self.engine.connect() as connection:
            run_rows = connection.execute(_RUNS).mappings().all()
            names, series_of = self._numbered(connection, keys)
            scan = connection.execute(_filtered(_VALUES, keys))
            values = np.fromiter(scan.cursor, dtype=_VALUE_ROW)  # NULL values become NaN
            wanted = {
                k: SeriesKey(*row[:4])
                for k, row in enumerate(names)
                if keys is None or SeriesKey(*row[:4]) in keys
            }
            latest = {k: names[k].latest for k in wanted}
            limits = sa.select(
                results.c.id,
                results.c.unit,
                results.c.lower,
                results.c.upper,
                results.c.marginal,
                results.c.better,
            ).where(results.c.id.in_(sorted(latest.values())))
            limit_rows = {row[0]: row[1:] for row in connection.execute(limits)}
        found = [_run_info(i, row) for i, row in enumerate(run_rows)]
        run_ids = np.array([row["id"] for row in run_rows], dtype=np.int64)
        position = _lookup(run_ids, np.arange(len(run_ids)), values["run"])
        number_of = _lookup(series_of["id"], series_of["k"], values["id"])
        k, at = number_of[values["id"]], position[values["run"]]
        known = (k >= 0) & (at >= 0)  # a value stored after its series or run were counted
        order = np.lexsort((values["id"][known], at[known], k[known]))  # series, run, id
        k, at, value = k[known][order], at[known][order], values["value"][known][order]
        bounds = np.searchsorted(k, np.arange(len(names) + 1))
        found_series = {}
        for number, series_key in wanted.items():
            chunk = slice(bounds[number], bounds[number + 1])
            unit, lower, upper, marginal, better_text = limit_rows[latest[number]]
            better, target = _better(better_text)
            found_series[series_key] = Series(
                series_key,
                at[chunk],
                value[chunk],
                unit=unit or "",
                lower=lower,
                upper=upper,
                marginal=marginal,
                better=better,
                target=target,
            )
        ordered = sorted(found_series.items(), key=lambda item: _order(item[0]))
        return History(found, dict(ordered))

    def _numbered(
        self, connection: sa.Connection, keys: set[SeriesKey] | None
    ) -> tuple[list[sa.Row], np.ndarray]:
        """The series in their index's order (key, latest id) and each value's id with its
        series' number, from one statement (the ids of each series as one text: one row
        per series, not per value, so a value stored meanwhile is in neither or both)."""
        names = connection.execute(_filtered(_SERIES, keys)).all()
        ids = [np.fromstring(row.ids, dtype=np.int64, sep=",") for row in names]
        numbered = np.empty(sum(map(len, ids)), dtype=[("id", np.int64), ("k", np.int64)])
        numbered["id"] = np.concatenate(ids) if ids else []
        numbered["k"] = np.repeat(np.arange(len(names)), [len(i) for i in ids])
        return names, numbered

    def accept(
        self,
        keys: list[SeriesKey],
        change_run: str,
        through: dt.datetime,
        who: str,
        reason: str,
        incident: str | None = None,
    ) -> None:
        """Record that the change of each of ``keys`` that started in ``change_run`` was
        intended, as of the run at ``through``: it becomes their baseline."""
        now = dt.datetime.now(dt.timezone.utc)
        with self._errors("record the acceptance"):
            accepts.create(self.engine, checkfirst=True)
            with self.engine.begin() as connection:
                connection.execute(
                    accepts.insert(),
                    [
                        {
                            "test": k.test,
                            "measurement": k.measurement,
                            "serial": k.serial,
                            "profile": k.profile,
                            "change_run": change_run,
                            "through": through.astimezone(dt.timezone.utc),
                            "incident": incident,
                            "who": who,
                            "at": now,
                            "reason": reason,
                        }
                        for k in keys
                    ],
                )

    def acceptances(self) -> list[Acceptance]:
        """Every acceptance, oldest first (none in a history made before they existed)."""
        if not sa.inspect(self.engine).has_table(accepts.name):
            return []
        query = sa.select(accepts).order_by(accepts.c.at, accepts.c.id)
        return [
            Acceptance(
                key=SeriesKey(row["test"], row["measurement"], row["serial"], row["profile"]),
                change_run=row["change_run"],
                through=_utc(row["through"]),
                incident=row["incident"],
                who=row["who"],
                at=_utc(row["at"]),
                reason=row["reason"],
            )
            for row in self._rows("read the acceptances", query)
        ]

    def _rows(self, doing: str, query: sa.Select) -> list[sa.RowMapping]:
        with self._errors(doing), self.engine.connect() as connection:
            return connection.execute(query).mappings().all()


@dataclass(frozen=True)
class Acceptance:
    """A lab's word that a change of one series was intended."""

    key: SeriesKey
    change_run: str
    through: dt.datetime
    incident: str | None
    who: str
    at: dt.datetime
    reason: str


def _run_fields(entry: RunEntry) -> dict[str, object]:
    """The columns of ``hil_runs`` a run's record decides (not its source or provenance)."""
    versions = entry.versions
    return {
        "started": entry.started.astimezone(dt.timezone.utc),
        "ended": entry.ended.astimezone(dt.timezone.utc) if entry.ended else None,
        "exitstatus": entry.exitstatus,
        "host": entry.host,
        "git_commit": entry.git_commit,
        "git_branch": entry.git_branch,
        "harness_version": versions.get("harness"),
        "sinabs_version": versions.get("sinabs"),
        "torch_version": versions.get("torch"),
        "samna_version": versions.get("samna"),
        "device_type": entry.device_type,
        "serial": entry.serial,
        "logic_version": entry.logic_version,
        "profile": entry.profile,
        "profile_sha256": entry.profile_sha256,
        "budgets_measured": entry.budgets_measured,
    }


_RESULT_FIELDS = tuple(c for c in results.c if c.name not in ("id", "run"))


def _result_rows(entry: RunEntry) -> list[tuple]:
    """Each value of ``entry`` as its ``hil_results`` row (without the ids)."""
    return [
        (
            r.test,
            r.measurement,
            r.serial or entry.serial,
            entry.profile,
            r.value,
            r.unit,
            r.lower,
            r.upper,
            r.marginal,
            r.outcome,
            _better_text(r.better, r.target),
        )
        for r in entry.results
    ]


def _better_text(better: str | None, target: float | None) -> str | None:
    return f"target={target!r}" if better == "target" and target is not None else better


def _better(text: str | None) -> tuple[str | None, float | None]:
    """(better, target) from the ``better`` column."""
    if text and text.startswith("target="):
        try:
            return "target", float(text.removeprefix("target="))
        except ValueError:
            return None, None
    return text, None


_VALUE_ROW = np.dtype([("id", np.int64), ("run", np.int64), ("value", float)])
_KEY = (results.c.test, results.c.measurement, results.c.serial, results.c.profile)
_RUNS = sa.select(
    *(c for c in runs.c if c.name != "stored"),
    sa.select(sa.func.count(results.c.id))
    .where(results.c.run == runs.c.id)
    .scalar_subquery()
    .label("n_results"),
).order_by(runs.c.started, runs.c.id)
_SERIES = (
    sa.select(
        *_KEY,
        sa.func.max(results.c.id).label("latest"),
        sa.func.aggregate_strings(sa.cast(results.c.id, sa.Text), ",").label("ids"),
    )
    .group_by(*_KEY)
    .order_by(*_KEY)
)
_VALUES = sa.select(results.c.id, results.c.run, results.c.value)


def _lookup(keys: np.ndarray, numbers: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """A table of ``numbers`` by their (non-negative integer) ``keys``, -1 for the other
    keys up to the largest of ``keys`` and ``asked``."""
    table = np.full(max(keys.max(initial=0), asked.max(initial=0)) + 1, -1, dtype=np.int64)
    table[keys] = numbers
    return table


def _filtered(query: sa.Select, keys: set[SeriesKey] | None) -> sa.Select:
    """``query`` over the values of ``keys``' tests only, or over all."""
    if keys is None:
        return query
    return query.where(results.c.test.in_(sorted({k.test for k in keys})))


def _run_info(index: int, row: sa.RowMapping) -> RunInfo:
    try:
        stored = json.loads(row["provenance"] or "{}")
    except json.JSONDecodeError:
        stored = {}
    session = stored.get("session") if isinstance(stored, dict) else None
    provenance = (session or {}).get("provenance") or {}
    harness = provenance.get("harness_git") or {}
    truth = provenance.get("emulated_truth") or {}
    truth_text = None
    if isinstance(truth, dict) and truth:
        truth_text = f"{truth.get('HIL_SIM_PROFILE', '?')} ({str(truth.get('sha256', ''))[:8]})"
    return RunInfo(
        index=index,
        run_id=row["run_id"],
        started=_utc(row["started"]),
        ended=_utc(row["ended"]) if row["ended"] else None,
        source=row["source"],
        host=row["host"] or "",
        git_commit=row["git_commit"],
        git_branch=row["git_branch"],
        versions=_versions(row),
        device_type=row["device_type"] or "",
        serial=row["serial"] or "",
        logic_version=row["logic_version"],
        profile=row["profile"] or "",
        profile_sha256=row["profile_sha256"],
        harness_commit=harness.get("commit") if isinstance(harness, dict) else None,
        emulated_truth=truth_text,
        exitstatus=row["exitstatus"],
        results=row["n_results"],
    )


def _order(key: SeriesKey) -> tuple[str, str, str, str]:
    return (key.test, key.measurement, key.serial, key.profile)


def _engine_options(url: sa.URL) -> dict:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if url.get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    return {}


def _from_row(record: type[R], row: sa.RowMapping, **computed: object) -> R:
    """A ``record`` dataclass from a result row: each field from the column of its name,
    unless ``computed`` gives it."""
    return record(
        **{
            field.name: computed[field.name] if field.name in computed else row[field.name]
            for field in fields(record)
        }
    )


def _versions(row) -> dict[str, str | None]:
    return {
        "harness": row["harness_version"],
        "sinabs": row["sinabs_version"],
        "torch": row["torch_version"],
        "samna": row["samna_version"],
    }


def _utc(time: dt.datetime) -> dt.datetime:
    """SQLite hands back times without their zone; every stored time is UTC."""
    return time if time.tzinfo else time.replace(tzinfo=dt.timezone.utc)


def _to_stderr(line: str) -> None:
    print(f"speck-hil: {line}", file=sys.stderr, flush=True)


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
