"""The plugin's options: each a flag, an ini key and an environment variable.

Every option can be given, in increasing precedence, as an ini key, an environment variable
(so a lab machine's setup beats a repository's ini), or on the command line. The readers here
are the one way the plugin's parts (session, pool, preflight, history) read an option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from hil import recordings
from hil.lab.device_session import SCOPES
from hil.plugin import summary


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str
    env: str
    default: str | bool | None
    help: str
    choices: tuple[str, ...] = ()

    @property
    def is_flag(self) -> bool:
        return isinstance(self.default, bool)


OPTIONS = {
    "device": Option(
        "--device",
        "hil_device",
        "HIL_DEVICE",
        "sim",
        "device for device tests: sim, sim:TYPE, sinabs, TYPE, TYPE:INDEX or TYPE@SERIAL "
        "(`speck-hil devices` lists them; default: sim, the emulated devkit)",
    ),
    "require_device": Option(
        "--require-device",
        "hil_require_device",
        "HIL_REQUIRE_DEVICE",
        False,
        "a device that cannot be opened ends the session with an error instead of skipping "
        "the device tests (for nightly runs)",
    ),
    "device_scope": Option(
        "--device-scope",
        "hil_device_scope",
        "HIL_DEVICE_SCOPE",
        "session",
        "how long one opened device lives: session, module or function (default: session); "
        "state is reset between tests whatever the scope",
        SCOPES,
    ),
    "recordings": Option(
        "--recordings",
        "hil_recordings",
        recordings.RECORDINGS_ENV,
        "recordings",
        "folder of event recordings with a manifest.toml (default: recordings/)",
    ),
    "hil_report": Option(
        "--hil-report",
        "hil_report",
        "HIL_REPORT",
        None,
        "write the JSON run record (device, every test, every measurement) to this file",
    ),
    "hil_artifacts": Option(
        "--hil-artifacts",
        "hil_artifacts",
        "HIL_ARTIFACTS",
        None,
        "save each replay's inputs and outputs (HDF5) under this folder, one folder per test",
    ),
    "hil_artifacts_keep": Option(
        "--hil-artifacts-keep",
        "hil_artifacts_keep",
        "HIL_ARTIFACTS_KEEP",
        None,
        "retention of --hil-artifacts: 'failed' keeps only failed tests' files, N keeps the "
        "last N runs (each in a folder of its own); default: everything, a test's folder "
        "emptied when it runs again",
    ),
    "hil_pictures": Option(
        "--hil-pictures",
        "hil_pictures",
        "HIL_PICTURES",
        "failed",
        "when to draw a PNG per checked replay (delay, SynOps/s per core, chip vs reference) "
        "into --hil-artifacts: failed (default), always or never",
        ("failed", "always", "never"),
    ),
    "hil_history": Option(
        "--hil-history",
        "hil_history",
        "HIL_HISTORY",
        None,
        "append this session's run to the history at PATH_OR_URL (an SQLite file, or a "
        "database URL such as postgresql://user@host/db) and compare it with the past",
    ),
    "hil_fail_on_regression": Option(
        "--hil-fail-on-regression",
        "hil_fail_on_regression",
        "HIL_FAIL_ON_REGRESSION",
        False,
        "an open regression, in the history, of a series this run measured fails the session",
    ),
    "hil_summary": Option(
        "--hil-summary",
        "hil_summary",
        "HIL_SUMMARY",
        "failed",
        "which measurements the terminal summary lists: failed (default: failures, marginals "
        "and expected failures), all or none; a tally per outcome follows",
        summary.MODES,
    ),
    "hil_chatter": Option(
        "--hil-chatter",
        "hil_chatter",
        "HIL_CHATTER",
        False,
        "show the warnings sinabs and torch give on every deploy (captured by default)",
    ),
    "profile": Option(
        "--profile",
        "hil_profile",
        "HIL_PROFILE",
        None,
        "device profile override (TOML: SynOps/s budgets, limits) merged into the shipped one",
    ),
    # board pools: hil.plugin.pool
    "board_wait": Option(
        "--board-wait",
        "hil_board_wait",
        "HIL_BOARD_WAIT",
        "60",
        "with a pool (--device 'TYPE:*'), seconds to wait for a free board before skipping "
        "the device tests (default: 60; 0 skips at once)",
    ),
    "device_each": Option(
        "--device-each",
        "hil_device_each",
        "HIL_DEVICE_EACH",
        False,
        "run every device test once on every board of the pool --device names",
    ),
    "quiet_ms": Option(
        "--quiet-ms",
        "hil_quiet_ms",
        "HIL_QUIET_MS",
        "100",
        "on a real devkit, how long (ms) no monitored spike may arrive after the barrier's "
        "reply for a replay to count as quiet (default: 100, sinabs' poll)",
    ),
    "lock_dir": Option(
        "--lock-dir",
        "hil_lock_dir",
        "HIL_LOCK_DIR",
        None,
        "folder of the per-board locks every session on this host shares "
        "(default: speck-hil-locks in the system's temporary folder)",
    ),
    "hil_health_check": Option(
        "--hil-health-check",
        "hil_health_check",
        "HIL_HEALTH_CHECK",
        False,
        "before its first test, run doctor's quick checks on the board a pool or a named "
        "--device leases: one that fails is marked bad and the session goes on with the others",
    ),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def add_options(parser: pytest.Parser) -> None:
    """Every option as a flag and an ini key; no ini default, so an unset key reads as unset."""
    group = parser.getgroup("speck-hil", "speck-hil: hardware-in-the-loop tests for Speck")
    for dest, opt in OPTIONS.items():
        where = f"env {opt.env}, ini {opt.ini}"
        if opt.is_flag:
            group.addoption(
                opt.flag, dest=dest, action="store_true", default=None, help=f"{opt.help}; {where}"
            )
        else:
            group.addoption(opt.flag, dest=dest, default=None, help=f"{opt.help}; {where}")
        # No ini default: an unset key must read as unset, so the default's source is known.
        parser.addini(opt.ini, help=opt.help, default="")


def lookup(config: pytest.Config, dest: str) -> tuple[str | bool | None, str]:
    """An option's raw value and where it came from: cli, env, ini or default."""
    opt = OPTIONS[dest]
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
    opt = OPTIONS[dest]
    value, source = lookup(config, dest)
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
    opt = OPTIONS[dest]
    source = lookup(config, dest)[1]
    return {"env": opt.env, "ini": f"ini {opt.ini}"}.get(source, opt.flag)


def option_given(config: pytest.Config, dest: str) -> bool:
    """Whether the user set an option (command line, environment or ini), not its default."""
    return lookup(config, dest)[1] != "default"


def path_option(config: pytest.Config, dest: str) -> Path | None:
    """A path option: relative to where pytest was started when given on the command line
    or in the environment, to the ini file's folder when it comes from the ini, to the
    rootdir for the default; so a suite behaves the same whatever folder pytest starts in."""
    value, source = lookup(config, dest)
    if not value:
        return None
    if source in ("cli", "env"):
        base = config.invocation_params.dir
    elif source == "ini" and config.inipath is not None:
        base = config.inipath.parent
    else:
        base = config.rootpath
    return base / value


def quiet_ms(config: pytest.Config) -> int:
    """``--quiet-ms`` as a positive whole number of ms; a usage error otherwise."""
    text = str(option(config, "quiet_ms"))
    if not text.isdigit() or int(text) <= 0:
        where = option_origin(config, "quiet_ms")
        raise pytest.UsageError(f"{where} {text!r}: expected milliseconds, a whole number > 0")
    return int(text)


def history_target(config: pytest.Config) -> str | None:
    """A database URL as given; a file path like every other path option."""
    value = option(config, "hil_history")
    return value if not value or "://" in value else str(path_option(config, "hil_history"))
