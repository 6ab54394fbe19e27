"""The session's state: the device ``--device`` names, its profile, the run record.

One ``HilSession`` per pytest session, kept in the config's stash (``session_of``); the hooks
(``hil.plugin.hooks``), the pool, the workers and the history read and change it, none of them
reaches into another. The device's lifetime and recovery live in ``hil.lab.device_session``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hil.backends import Device, DeviceSpecError, parse_device_spec
from hil.backends.base import Run
from hil.chip.profile import ProfileError, load_profile
from hil.history.provenance import profile_provenance, session_provenance
from hil.lab.device_session import DeviceRefused, DeviceSession
from hil.plugin import artifacts
from hil.plugin.artifacts import folder_for, save_run
from hil.plugin.options import lookup, option, option_origin, path_option, quiet_ms
from hil.plugin.preflight import check_session_inputs
from hil.plugin.record import RunRecord
from hil.plugin.state import ItemState, state_of

_KEY = pytest.StashKey["HilSession"]()


def session_of(config: pytest.Config) -> HilSession:
    """The session's state, made when the plugin was configured."""
    return config.stash[_KEY]


class HilSession:
    """The device, the run record, and what each test's replays leave behind."""

    def __init__(self, config: pytest.Config):
        self.config = config
        check_session_inputs(config)
        try:
            self.spec = parse_device_spec(option(config, "device"))
            self.profile_path = path_option(config, "profile")
            self.profile = load_profile(self.spec.profile_name, override=self.profile_path)
        except (DeviceSpecError, ProfileError) as exc:
            raise pytest.UsageError(str(exc)) from None
        quiet_ms(config)  # refused before any work
        self.scope = option(config, "device_scope")
        self.require = option(config, "require_device")
        self.artifacts_dir = path_option(config, "hil_artifacts")
        try:
            self.artifacts_keep = artifacts.parse_keep(option(config, "hil_artifacts_keep"))
        except ValueError as exc:
            origin = option_origin(config, "hil_artifacts_keep")
            raise pytest.UsageError(f"{origin}: {exc}") from None
        #: with --hil-artifacts-keep N, this session's own folder under --hil-artifacts
        self.artifacts_run: str | None = None
        self.devices = DeviceSession(str(self.spec), self.opener(str(self.spec)))
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
            warn=self.warn,
        )
        #: where the record went when ``--hil-report`` could not take it at the end
        self.record_kept: str | None = None
        self._artifacts_unwritten = False
        #: False when the device is opened by the first device test instead of after
        #: collection (an xdist worker under --device-each learns its board only then).
        self.open_after_collection = True
        self._keep_runs(config)
        config.stash[_KEY] = self

    def warn(self, line: str) -> None:
        """One line for the user now, between the tests' progress, also from inside a test
        (past its output capture); stderr before the terminal exists."""
        plugins = self.config.pluginmanager
        reporter = plugins.get_plugin("terminalreporter")
        capture = plugins.get_plugin("capturemanager")
        if reporter is None or capture is None:
            print(f"speck-hil: WARNING: {line}", file=sys.stderr, flush=True)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"speck-hil: WARNING: {line}", yellow=True)

    def finish_record(self, exitstatus: int) -> bool:
        """End the run record; when ``--hil-report`` still cannot take it, keep it in the
        first fallback folder that does (``hil.history.keep``). False then."""
        self.record.finish(exitstatus)
        if self.record.unwritten is None or self.record_kept is not None:
            return self.record_kept is None
        self.record_kept = str(self.keep_record())
        return False

    def keep_record(self) -> Path | str:
        """Where the run record is kept whole: its own file when that was written, else the
        first of the fallback folders that takes it."""
        if self.record.path is not None and self.record.unwritten is None:
            return self.record.path
        if self.record_kept is not None:
            return self.record_kept
        from hil.history.keep import fallback_folders, keep_run_record

        folders = fallback_folders(self.config.invocation_params.dir)
        path, refused = keep_run_record(self.record.as_dict(), folders)
        return path or f"NOWHERE ({'; '.join(refused)})"

    def _keep_runs(self, config: pytest.Config) -> None:
        """With ``--hil-artifacts-keep N``: this session's own folder (the controller names
        it and tells its xdist workers), and all but the last N removed."""
        if self.artifacts_dir is None or not isinstance(self.artifacts_keep, int):
            return
        worker = getattr(config, "workerinput", None)
        if worker is not None and "hil_artifacts_run" in worker:
            self.artifacts_dir = self.artifacts_dir / worker["hil_artifacts_run"]
            return
        session = self.record.session
        name = artifacts.run_folder_name(session["started"], session["run_id"])
        artifacts.prune_runs(self.artifacts_dir, self.artifacts_keep, name)
        self.artifacts_run = name
        self.artifacts_dir = self.artifacts_dir / name

    def opener(self, spec: str) -> Callable[[], Device]:
        """Opens the device ``spec`` names through the ``pytest_hil_open_device`` hook."""
        return lambda: self.config.hook.pytest_hil_open_device(
            config=self.config, spec=spec, profile=self.profile_path
        )

    # -- the device ---------------------------------------------------------------------

    def device_opened(self) -> None:
        """The record and profile follow the device that is open now."""
        if self.devices.device is None:  # re-opened, found silent and closed by recovery
            return
        self.profile = self.devices.device.profile
        self.record.session["device"] = self.devices.info_dict()
        self.record.session["profile"] = self.profile.source
        self.record.session["provenance"]["profile"] = profile_provenance(self.profile)
        self.record.session["budgets"] = self.profile.budgets_record()

    def refusal(self, reason: object) -> str:
        """Why there is no device, with what to do about it."""
        if self.devices.broken:
            return str(reason)
        prefix = "no devkit found" if self.spec.kind == "real" else "device could not be opened"
        return (
            f"{prefix} (--device {self.spec}): {reason}; "
            "`speck-hil devices` lists the devices this machine can open"
        )

    def begin_device_test(self, item: pytest.Item) -> Device:
        state = state_of(item)
        if self.devices.open_failure is not None:
            raise self.devices.open_failure
        opens = self.devices.opens
        try:
            device = self.devices.begin_test(lambda run: self._on_run(item, state, run))
        except DeviceRefused as exc:
            message = self.refusal(exc)
            if self.require:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        if self.devices.opens != opens:
            self.device_opened()
        state.serial = device.info.serial
        return device

    def end_device_test(self, item: pytest.Item) -> None:
        state = state_of(item)
        opens = self.devices.opens
        state.recovery = self.devices.end_test(item.nodeid, state.device_error)
        if self.devices.opens != opens:
            self.device_opened()

    # -- what a test's replays leave behind -----------------------------------------------

    def _on_run(self, item: pytest.Item, state: ItemState, run: Run) -> None:
        state.replays.append(
            {
                "recording": run.source,
                "sha256": run.source_sha256 or None,
                "config_hash": run.deployment.mapping.config_hash,
            }
        )
        if self.artifacts_dir is None:
            return
        folder = folder_for(self.artifacts_dir, item.nodeid)
        try:
            state.artifacts += [str(p) for p in save_run(folder, state.runs, run)]
        except OSError as exc:
            self._artifacts_failed(folder, exc)
        state.runs += 1

    def _artifacts_failed(self, folder: Path, exc: OSError) -> None:
        """A replay's files could not be written: said once, the test's verdict untouched
        (its measurements are in the run record)."""
        if not self._artifacts_unwritten:
            self._artifacts_unwritten = True
            self.warn(
                f"--hil-artifacts: cannot write into {folder} ({exc.strerror or exc}); "
                "the tests go on, their artifacts are not kept until writing works again"
            )

    def draw(self, item: pytest.Item, state: ItemState) -> None:
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
        try:
            state.artifacts += [str(path) for path in state.measure.draw(folder)]
        except OSError as exc:
            self._artifacts_failed(folder, exc)

    def pictures_nowhere(self) -> str | None:
        """Pictures asked for (not just the default) with no folder to draw them into."""
        when, source = lookup(self.config, "hil_pictures")
        if self.artifacts_dir is not None or source == "default" or when == "never":
            return None
        return (
            f"--hil-pictures {when} (from {source}) but no --hil-artifacts: no picture will "
            "be written; give --hil-artifacts DIR"
        )

    # -- what the terminal says about the device ------------------------------------------

    def device_lines(self) -> list[str]:
        info = self.devices.info
        if info is not None:
            return [
                f"speck-hil device: {info} — kind {info.kind}, type {info.device_type}, "
                f"serial {info.serial or 'none'}, samna {info.samna_version}, "
                f"profile {info.profile}"
            ]
        reason = self.devices.unavailable or self.devices.open_failure
        if reason is None:
            return []
        if self.devices.open_failure is not None:
            reason = f"{type(reason).__name__}: {reason}"
        return [f"speck-hil device: NOT OPENED, device tests will not run: {self.refusal(reason)}"]

    def summary_device_lines(self) -> list[str]:
        """The summary's lines above the table: the device, recovery, and what the pool and
        the xdist workers add (``pytest_hil_summary_lines``)."""
        added = self.config.hook.pytest_hil_summary_lines(config=self.config)
        return self.device_lines() + self.devices.notes + [line for ls in added for line in ls]
