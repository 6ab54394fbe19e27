"""The pytest plugin, registered as ``hil`` through the ``pytest11`` entry point.

Disable it with ``pytest -p no:hil``. Every option can be given, in increasing precedence, as
an ini key, an environment variable (so a lab machine's setup beats a repository's ini), or on
the command line.

This module holds the options, fixtures and hooks; the device's lifetime and recovery live in
``hil.device_session``, measurements in ``hil.measurement``, the run record and summary table
in ``hil.report``, replay files in ``hil.artifacts``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hil import chatter, junit, recording_folders, recordings, summary
from hil.artifacts import folder_for, save_run
from hil.backends import Device, DeviceError, DeviceSpecError, open_device, parse_device_spec
from hil.backends.base import Run
from hil.chip.profile import ChipProfile, ProfileError, load_profile
from hil.device_session import SCOPES, DeviceRefused, DeviceSession
from hil.history import pytest_hooks as history
from hil.measurement import Measure, failure_report
from hil.preflight import check_session_inputs
from hil.provenance import profile_provenance, session_provenance
from hil.report import RunRecord
from hil.samna_guard import guard_samna_import

# Before any conftest or test module imports sinabs (which imports samna): never PyPI's
# placeholder, which runs pip when imported.
guard_samna_import()

if TYPE_CHECKING:
    from hil.checks import HilMeasure


@dataclass(frozen=True)
class _Option:
    flag: str
    ini: str
    env: str
    default: str | bool | None
    help: str
    choices: tuple[str, ...] = ()

    @property
    def is_flag(self) -> bool:
        return isinstance(self.default, bool)


_OPTIONS = {
    "device": _Option(
        "--device",
        "hil_device",
        "HIL_DEVICE",
        "sim",
        "device for device tests: sim, sim:TYPE, sinabs, TYPE, TYPE:INDEX or TYPE@SERIAL "
        "(`speck-hil devices` lists them; default: sim, the emulated devkit)",
    ),
    "require_device": _Option(
        "--require-device",
        "hil_require_device",
        "HIL_REQUIRE_DEVICE",
        False,
        "a device that cannot be opened ends the session with an error instead of skipping "
        "the device tests (for nightly runs)",
    ),
    "device_scope": _Option(
        "--device-scope",
        "hil_device_scope",
        "HIL_DEVICE_SCOPE",
        "session",
        "how long one opened device lives: session, module or function (default: session); "
        "state is reset between tests whatever the scope",
        SCOPES,
    ),
    "recordings": _Option(
        "--recordings",
        "hil_recordings",
        recordings.RECORDINGS_ENV,
        "recordings",
        "folder of event recordings with a manifest.toml (default: recordings/)",
    ),
    "hil_report": _Option(
        "--hil-report",
        "hil_report",
        "HIL_REPORT",
        None,
        "write the JSON run record (device, every test, every measurement) to this file",
    ),
    "hil_artifacts": _Option(
        "--hil-artifacts",
        "hil_artifacts",
        "HIL_ARTIFACTS",
        None,
        "save each replay's inputs and outputs (HDF5) under this folder, one folder per test",
    ),
    "hil_pictures": _Option(
        "--hil-pictures",
        "hil_pictures",
        "HIL_PICTURES",
        "failed",
        "when to draw a PNG per checked replay (delay, SynOps/s per core, chip vs reference) "
        "into --hil-artifacts: failed (default), always or never",
        ("failed", "always", "never"),
    ),
    "hil_history": _Option(
        "--hil-history",
        "hil_history",
        "HIL_HISTORY",
        None,
        "append this session's run to the history at PATH_OR_URL (an SQLite file, or a "
        "database URL such as postgresql://user@host/db) and compare it with the past",
    ),
    "hil_fail_on_regression": _Option(
        "--hil-fail-on-regression",
        "hil_fail_on_regression",
        "HIL_FAIL_ON_REGRESSION",
        False,
        "an open regression, in the history, of a series this run measured fails the session",
    ),
    "hil_summary": _Option(
        "--hil-summary",
        "hil_summary",
        "HIL_SUMMARY",
        "failed",
        "which measurements the terminal summary lists: failed (default: failures, marginals "
        "and expected failures), all or none; a tally per outcome follows",
        summary.MODES,
    ),
    "hil_chatter": _Option(
        "--hil-chatter",
        "hil_chatter",
        "HIL_CHATTER",
        False,
        "show the warnings sinabs and torch give on every deploy (captured by default)",
    ),
    "profile": _Option(
        "--profile",
        "hil_profile",
        "HIL_PROFILE",
        None,
        "device profile override (TOML: SynOps/s budgets, limits) merged into the shipped one",
    ),
    # board pools: hil.pytest_pool
    "board_wait": _Option(
        "--board-wait",
        "hil_board_wait",
        "HIL_BOARD_WAIT",
        "60",
        "with a pool (--device 'TYPE:*'), seconds to wait for a free board before skipping "
        "the device tests (default: 60; 0 skips at once)",
    ),
    "device_each": _Option(
        "--device-each",
        "hil_device_each",
        "HIL_DEVICE_EACH",
        False,
        "run every device test once on every board of the pool --device names",
    ),
    "lock_dir": _Option(
        "--lock-dir",
        "hil_lock_dir",
        "HIL_LOCK_DIR",
        None,
        "folder of the per-board locks every session on this host shares "
        "(default: speck-hil-locks in the system's temporary folder)",
    ),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from hil import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("speck-hil", "speck-hil: hardware-in-the-loop tests for Speck")
    for dest, opt in _OPTIONS.items():
        where = f"env {opt.env}, ini {opt.ini}"
        if opt.is_flag:
            group.addoption(
                opt.flag, dest=dest, action="store_true", default=None, help=f"{opt.help}; {where}"
            )
        else:
            group.addoption(opt.flag, dest=dest, default=None, help=f"{opt.help}; {where}")
        # No ini default: an unset key must read as unset, so the default's source is known.
        parser.addini(opt.ini, help=opt.help, default="")


def _lookup(config: pytest.Config, dest: str) -> tuple[str | bool | None, str]:
    """An option's raw value and where it came from: cli, env, ini or default."""
    opt = _OPTIONS[dest]
    value = config.getoption(dest)
    if value is not None:
        return value, "cli"
    if os.environ.get(opt.env):
        return os.environ[opt.env], "env"
    if config.getini(opt.ini):
        return config.getini(opt.ini), "ini"
    return opt.default, "default"


def option(config: pytest.Config, dest: str) -> str | bool | None:
    """An option's value: command line, else environment, else ini, else default."""
    opt = _OPTIONS[dest]
    value, source = _lookup(config, dest)
    if opt.is_flag and isinstance(value, str):
        if value.strip().lower() not in _TRUE + _FALSE:
            raise pytest.UsageError(
                f"{opt.env if source == 'env' else opt.ini}={value!r}: expected one of "
                f"{', '.join(_TRUE + _FALSE[:-1])}"
            )
        return value.strip().lower() in _TRUE
    if opt.choices and value not in opt.choices:
        raise pytest.UsageError(
            f"{opt.flag} {value!r} (from {source}): expected one of {', '.join(opt.choices)}"
        )
    return value


def option_origin(config: pytest.Config, dest: str) -> str:
    """How the user gave an option, for messages: its flag, variable or ini key."""
    opt = _OPTIONS[dest]
    source = _lookup(config, dest)[1]
    return {"env": opt.env, "ini": f"ini {opt.ini}"}.get(source, opt.flag)


def option_given(config: pytest.Config, dest: str) -> bool:
    """Whether the user set an option (command line, environment or ini), not its default."""
    return _lookup(config, dest)[1] != "default"


def path_option(config: pytest.Config, dest: str) -> Path | None:
    """A path option: relative to where pytest was started when given on the command line
    or in the environment, to the ini file's folder when it comes from the ini, to the
    rootdir for the default; so a suite behaves the same whatever folder pytest starts in."""
    value, source = _lookup(config, dest)
    if not value:
        return None
    if source in ("cli", "env"):
        base = config.invocation_params.dir
    elif source == "ini" and config.inipath is not None:
        base = config.inipath.parent
    else:
        base = config.rootpath
    return base / value


@pytest.hookimpl(trylast=True)
def pytest_hil_open_device(config: pytest.Config, spec: str, profile: Path | None) -> Device:
    return open_device(spec, profile)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hardware: needs a real chip; skipped on emulated and software devices"
    )
    config.addinivalue_line(
        "markers",
        "device(*patterns): runs only on device types matching a pattern, e.g. 'speck2f*'",
    )
    if not option(config, "hil_chatter"):
        for line in chatter.WARNING_FILTERS:
            config.addinivalue_line("filterwarnings", line)
    hil = HilPlugin(config)
    config.pluginmanager.register(hil, HilPlugin.name)
    history.register(config, _history_target(config), option(config, "hil_fail_on_regression"))
    from hil import pytest_pool, pytest_workers

    pytest_pool.register(config, hil)
    pytest_workers.register(config, hil)


def _history_target(config: pytest.Config) -> str | None:
    """A database URL as given; a file path like every other path option."""
    value = option(config, "hil_history")
    return value if not value or "://" in value else str(path_option(config, "hil_history"))


def _hil(config: pytest.Config) -> HilPlugin:
    return config.pluginmanager.get_plugin(HilPlugin.name)


@pytest.fixture(scope="session")
def recordings_dir(pytestconfig: pytest.Config) -> Path:
    """The recordings folder."""
    return path_option(pytestconfig, "recordings")


@pytest.fixture
def recording(recordings_dir: Path) -> Callable[..., recordings.Recording]:
    """Load a recording by manifest name (checked against its sha256) or by path.

    ``recording("moving_bar_128")`` or ``recording("data/run3.aedat4")``. A name is looked
    up in the recordings folder, then among the examples shipped with speck-hil.
    """

    def load(name_or_path: str | os.PathLike, **kwargs) -> recordings.Recording:
        text = str(name_or_path)
        if os.sep in text or "/" in text or Path(text).suffix:
            return recordings.load(name_or_path, **kwargs)
        return recording_folders.by_name(text, recordings_dir)

    return load


@pytest.fixture
def speck(request: pytest.FixtureRequest) -> Iterator[Device]:
    """The device ``--device`` names, opened for this test; a test that uses it is a device
    test. It holds no neuron state from earlier tests; see ``hil.device_session``."""
    hil = _hil(request.config)
    yield hil.begin_device_test(request.node)
    hil.end_device_test(request.node)


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Iterator[HilMeasure]:
    """Record measurements with limits: ``measure("events_out", n, "events", lower=1)``.

    Every measurement is kept; the test fails at its end, listing each one out of limits.
    """
    from hil.checks import HilMeasure  # the analyses load torch and sinabs: only when asked

    state = _state(request.node)
    state.measure = HilMeasure()
    yield state.measure
    late = state.measure.failures[state.judged :]
    if late:
        pytest.fail(failure_report(state.measure.measurements), pytrace=False)


@pytest.fixture
def device_profile(request: pytest.FixtureRequest) -> ChipProfile:
    """The device profile in use: the open device's, else the one ``--device`` and
    ``--profile`` name."""
    return _hil(request.config).profile


@dataclass
class _TestState:
    measure: Measure = field(default_factory=Measure)  # a HilMeasure once the fixture runs
    failed: bool = False
    judged: int = 0  # failures already reported when the test body ended
    artifacts: list[str] = field(default_factory=list)
    replays: list[dict] = field(default_factory=list)
    runs: int = 0
    device_error: DeviceError | None = None
    recovery: str | None = None
    serial: str | None = None  # the board the test ran on


_STATE = pytest.StashKey[_TestState]()


def _state(item: pytest.Item) -> _TestState:
    if _STATE not in item.stash:
        item.stash[_STATE] = _TestState()
    return item.stash[_STATE]


class HilPlugin:
    """The session's state: the device, the run record, the results for the summary."""

    name = "hil-session"

    def __init__(self, config: pytest.Config):
        self.config = config
        check_session_inputs(config, option, path_option, option_origin, option_given)
        try:
            self.spec = parse_device_spec(option(config, "device"))
            self.profile_path = path_option(config, "profile")
            self.profile = load_profile(self.spec.profile_name, override=self.profile_path)
        except (DeviceSpecError, ProfileError) as exc:
            raise pytest.UsageError(str(exc)) from None
        self.scope = option(config, "device_scope")
        self.require = option(config, "require_device")
        self.artifacts_dir = path_option(config, "hil_artifacts")
        self.devices = DeviceSession(str(self.spec), self._open)
        is_worker = hasattr(config, "workerinput")
        provenance = session_provenance(config.rootpath, self.profile)
        self.record = RunRecord(
            None if is_worker else path_option(config, "hil_report"),
            {
                "device_spec": str(self.spec),
                "device": None,
                "device_error": None,
                "scope": self.scope,
                "profile": self.profile.source,
                "budgets": self.profile.budgets_record(),
                "git_commit": (provenance["git"] or {}).get("commit"),
                "rootdir": str(config.rootpath),
                "provenance": provenance,
            },
        )
        self._phases: dict[str, dict] = {}
        #: False when the device is opened by the first device test instead of after
        #: collection (an xdist worker under --device-each learns its board only then).
        self.open_after_collection = True

    def _open(self) -> Device:
        return self.config.hook.pytest_hil_open_device(
            config=self.config, spec=str(self.spec), profile=self.profile_path
        )

    # -- the device ---------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.record.write()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.config.option.collectonly or not self.open_after_collection:
            return
        if self.require or any("speck" in getattr(i, "fixturenames", ()) for i in session.items):
            try:
                self.devices.open()
            except Exception as exc:
                reason = self._refusal(self.devices.unavailable or exc)
                self.record.session["device_error"] = reason
                self.record.write()
                if self.require:
                    raise pytest.UsageError(f"--require-device: {reason}") from None
                if isinstance(exc, DeviceError):
                    skip = pytest.mark.skip(reason=reason)
                    for item in session.items:
                        if "speck" in getattr(item, "fixturenames", ()):
                            item.add_marker(skip)
            else:
                self._device_opened()

    def _device_opened(self) -> None:
        if self.devices.device is None:  # re-opened, found silent and closed by recovery
            return
        self.profile = self.devices.device.profile
        self.record.session["device"] = self.devices.info_dict()
        self.record.session["profile"] = self.profile.source
        self.record.session["provenance"]["profile"] = profile_provenance(self.profile)
        self.record.session["budgets"] = self.profile.budgets_record()

    def _refusal(self, reason: object) -> str:
        """Why there is no device, with what to do about it."""
        if self.devices.broken:
            return str(reason)
        prefix = "no devkit found" if self.spec.kind == "real" else "device could not be opened"
        return (
            f"{prefix} (--device {self.spec}): {reason}; "
            "`speck-hil devices` lists the devices this machine can open"
        )

    def begin_device_test(self, item: pytest.Item) -> Device:
        state = _state(item)
        if self.devices.open_failure is not None:
            raise self.devices.open_failure
        opens = self.devices.opens
        try:
            device = self.devices.begin_test(lambda run: self._on_run(item, state, run))
        except DeviceRefused as exc:
            message = self._refusal(exc)
            if self.require:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        if self.devices.opens != opens:
            self._device_opened()
        state.serial = device.info.serial
        return device

    def end_device_test(self, item: pytest.Item) -> None:
        state = _state(item)
        opens = self.devices.opens
        state.recovery = self.devices.end_test(item.nodeid, state.device_error)
        if self.devices.opens != opens:
            self._device_opened()

    def _on_run(self, item: pytest.Item, state: _TestState, run: Run) -> None:
        state.replays.append(
            {
                "recording": run.source,
                "sha256": run.source_sha256 or None,
                "config_hash": run.deployment.mapping.config_hash,
            }
        )
        self._save_run(item, state, run)

    def _save_run(self, item: pytest.Item, state: _TestState, run: Run) -> None:
        if self.artifacts_dir is None:
            return
        folder = folder_for(self.artifacts_dir, item.nodeid)
        state.artifacts += [str(p) for p in save_run(folder, state.runs, run)]
        state.runs += 1

    def _draw(self, item: pytest.Item, state: _TestState) -> None:
        """Pictures of the checked replays, when asked for or when the test failed."""
        when = option(self.config, "hil_pictures")
        wanted = when == "always" or (when == "failed" and state.failed)
        if (
            self.artifacts_dir is None
            or not wanted
            or "measure" not in getattr(item, "fixturenames", ())
        ):
            return
        folder = folder_for(self.artifacts_dir, item.nodeid)
        state.artifacts += [str(path) for path in state.measure.draw(folder)]

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A device is held only while device tests run, so a test that does not use
        ``speck`` (or the code it tests) can open the device itself."""
        if "speck" not in getattr(item, "fixturenames", ()):
            self.devices.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        yield
        module_ends = nextitem is None or nextitem.getparent(pytest.Module) is not item.getparent(
            pytest.Module
        )
        if (self.scope == "function" and "speck" in getattr(item, "fixturenames", ())) or (
            self.scope == "module" and module_ends
        ):
            self.devices.close()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.devices.close()
        self.record.finish(exitstatus)

    # -- markers --------------------------------------------------------------------------

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Skip by marker up front, so the skip names the test, not the plugin."""
        for item in items:
            reason = self._marker_skip(item)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))

    def _marker_skip(self, item: pytest.Item) -> str | None:
        if item.get_closest_marker("hardware") and self.spec.kind != "real":
            return f"needs a real chip; --device {self.spec} is {self.spec.kind}"
        mark = item.get_closest_marker("device")
        if mark is None:
            return None
        if not mark.args:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.device needs a pattern")
        if any(fnmatch(self.spec.device_type, pattern) for pattern in mark.args):
            return None
        return (
            f"runs only on {' or '.join(mark.args)}; "
            f"--device {self.spec} is a {self.spec.device_type}"
        )

    # -- measurements and reports ---------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        state = _state(item)
        try:
            yield
        finally:
            state.judged = len(state.measure.failures)
        if state.judged:
            pytest.fail(failure_report(state.measure.measurements), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        state = _state(item)
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, DeviceError) and state.device_error is None:
            state.device_error = error
        if call.when == "teardown":
            self._draw(item, state)
            item.user_properties += junit.properties(state.measure)
        report = yield
        crash = getattr(report.longrepr, "reprcrash", None)
        if isinstance(error, DeviceError) and crash is not None:
            # pytest's short summary trims to the terminal: lead with the error, not its module
            crash.message = f"{type(error).__name__}: {error}"
        state.failed = state.failed or report.failed or hasattr(report, "wasxfail")
        if call.when == "teardown":
            report.hil = {
                "measurements": [m.as_dict() for m in state.measure],
                "replays": state.replays,
                "artifacts": state.artifacts,
                "device_error": str(state.device_error) if state.device_error else None,
                "recovery": state.recovery,
                "device": self.devices.info_dict(),
                "serial": state.serial,
            }
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self._phases.setdefault(
            report.nodeid,
            {"nodeid": report.nodeid, "outcome": "passed", "duration_s": 0.0, "message": None},
        )
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 6)
        if entry["outcome"] == "passed":
            entry["outcome"], entry["message"] = _outcome(report)
        if report.when != "teardown":
            return
        del self._phases[report.nodeid]
        extra = getattr(report, "hil", {})
        if extra.get("device") is not None:
            self.record.session["device"] = extra["device"]
        entry.update(
            measurements=extra.get("measurements", []),
            replays=extra.get("replays", []),
            artifacts=extra.get("artifacts", []),
            device_error=extra.get("device_error"),
            recovery=extra.get("recovery"),
            serial=extra.get("serial"),
        )
        self.record.add_test(entry)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = [
            f"speck-hil: --device {self.spec} ({self.spec.kind}), scope {self.scope}, "
            f"profile {self.profile.source}",
            f"speck-hil: {self.profile.budgets_note}",
        ]
        lines.append(
            "speck-hil: recordings " + recording_folders.describe(path_option(config, "recordings"))
        )
        if self.record.path:
            lines.append(f"speck-hil: run record {self.record.path}")
        if self.artifacts_dir:
            lines.append(f"speck-hil: artifacts under {self.artifacts_dir}")
        if self._pictures_nowhere():
            lines.append(f"speck-hil: WARNING: {self._pictures_nowhere()}")
        return lines

    def _pictures_nowhere(self) -> str | None:
        """Pictures asked for (not just the default) with no folder to draw them into."""
        when, source = _lookup(self.config, "hil_pictures")
        if self.artifacts_dir is not None or source == "default" or when == "never":
            return None
        return (
            f"--hil-pictures {when} (from {source}) but no --hil-artifacts: no picture will "
            "be written; give --hil-artifacts DIR"
        )

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        return self._device_lines()

    def _device_lines(self) -> list[str]:
        info = self.devices.info
        if info is not None:
            return [
                f"speck-hil device: {info} — kind {info.kind}, type {info.device_type}, "
                f"serial {info.serial}, samna {info.samna_version}, profile {info.profile}"
            ]
        reason = self.devices.unavailable or self.devices.open_failure
        if reason is None:
            return []
        if self.devices.open_failure is not None:
            reason = f"{type(reason).__name__}: {reason}"
        return [f"speck-hil device: NOT OPENED, device tests will not run: {self._refusal(reason)}"]

    def summary_device_lines(self) -> list[str]:
        """The summary's lines above the table: the device, recovery, and what the pool and
        the xdist workers add (``pytest_hil_summary_lines``)."""
        added = self.config.hook.pytest_hil_summary_lines(config=self.config)
        return self._device_lines() + self.devices.notes + [line for ls in added for line in ls]

    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = summary.section(self.record.tests, option(self.config, "hil_summary"))
        above = self.summary_device_lines()
        if not lines and not above:
            return
        terminalreporter.section("speck-hil")
        for line in above + lines:
            terminalreporter.line(line)
        if self._pictures_nowhere():
            terminalreporter.line(f"WARNING: {self._pictures_nowhere()}", yellow=True)
        if self.record.path:
            terminalreporter.line(f"run record: {self.record.path}")


def _outcome(report: pytest.TestReport) -> tuple[str, str | None]:
    """A phase's outcome for the run record: passed, failed, error, skipped, xfailed, xpassed."""
    if hasattr(report, "wasxfail"):
        return ("xfailed" if report.skipped else "xpassed"), report.wasxfail or None
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skipped", reason.removeprefix("Skipped: ")
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        return ("failed" if report.when == "call" else "error"), message
    return "passed", None
