"""Device profiles: everything the harness knows about a chip, read from TOML.

The shipped profiles live in ``hil/chip/profiles/NAME.toml``. A lab overrides part of one with
its own file (say, the SynOps/s it measured on its chip): ``load_profile("speck2f",
override="lab.toml")`` merges the override's keys into the named profile.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from hil.chip.faults import BoardFaults, faults_from_table
from hil.chip.profile_schema import profile_problem
from hil.files import unreadable_file

PROFILE_DIR = Path(__file__).parent / "profiles"


class ProfileError(ValueError):
    """A profile that cannot be found or read, or that states what no chip can be."""


@dataclass(frozen=True)
class MemoryTable:
    kernel_words: tuple[int, ...]
    neuron_words: tuple[int, ...]
    bias_words: tuple[int, ...]


@dataclass(frozen=True)
class ShapeLimits:
    max_input_size: int
    max_output_size: int
    max_channels: int
    max_kernel_size: int
    strides: tuple[int, ...]
    max_padding: int
    poolings: tuple[int, ...]
    weight_bits: int
    state_bits: int

    @property
    def weight_range(self) -> tuple[int, int]:
        return -(2 ** (self.weight_bits - 1)), 2 ** (self.weight_bits - 1) - 1

    @property
    def state_range(self) -> tuple[int, int]:
        return -(2 ** (self.state_bits - 1)), 2 ** (self.state_bits - 1) - 1


@dataclass(frozen=True)
class NoiseModel:
    """How far an emulated chip strays from the ideal one (``[noise]``; all off by default).

    Only the emulator reads it: it is part of what an emulated chip *is*
    (``HIL_SIM_PROFILE``), never something the harness assumes about a chip.
    """

    seed: int = 0
    input_loss: float = 0.0  # probability that an input event is lost
    spike_loss: float = 0.0  # probability that a spike a core emits is lost
    spurious_spikes: float = 0.0  # probability per served event of one spike without cause
    jitter_us: float = 0.0  # output timestamps are late by up to this much (uniform)
    stochastic_cores: tuple[int, ...] = ()
    misaddressed_spikes: float = 0.0  # on stochastic cores: probability of a random address

    @property
    def enabled(self) -> bool:
        return any(
            (self.input_loss, self.spike_loss, self.spurious_spikes, self.jitter_us)
        ) or bool(self.stochastic_cores)


@dataclass(frozen=True)
class DevkitModel:
    """How an emulated board (its FPGA, firmware and link) behaves besides its chip
    (``[devkit]``). Only the emulator reads it, from ``HIL_SIM_PROFILE``: a real board's
    write time is measured (the barrier after every configuration), never assumed."""

    config_write_us: float = 1000.0  # fixed cost of one configuration write
    config_write_us_per_word: float = 0.1  # per value the configuration writes


@dataclass(frozen=True)
class ChipProfile:
    name: str
    device_types: tuple[str, ...]
    n_cores: int
    memory: MemoryTable
    limits: ShapeLimits
    synops_per_s: tuple[float, ...]
    synops_per_s_measured: bool
    pipeline_latency_us: float
    slow_clk_hz: float
    decimator_intervals: tuple[int, ...]
    max_delay_us: float
    max_drain_us: float
    source: str
    noise: NoiseModel = NoiseModel()
    devkit: DevkitModel = DevkitModel()
    faults: BoardFaults = field(default_factory=BoardFaults)  # ``hil.chip.faults``
    power: PowerModel | None = None
    calibration: Calibration | None = None

    @property
    def budgets_note(self) -> str:
        """What the SynOps/s budgets rest on, for a header or a record: measured (when, on
        which board) or assumed."""
        calibration = self.calibration
        if (calibration is None or not calibration.cores) and self.synops_per_s_measured:
            return (
                "SynOps/s budgets marked measured (synops_per_s_measured = true), "
                "no [calibration] says where or when"
            )
        if calibration is None or not calibration.cores:
            return "SynOps/s budgets ASSUMED (not measured on any chip)"
        cores = (
            "all cores"
            if set(calibration.cores) >= set(range(self.n_cores))
            else "cores " + ",".join(map(str, calibration.cores)) + " (the rest assumed)"
        )
        partial = ", PARTIAL calibration" if calibration.partial else ""
        return (
            f"SynOps/s budgets measured on {cores}, serial {calibration.serial}, "
            f"{calibration.date}{partial}"
        )

    def budgets_record(self) -> dict:
        """The same, for the run record."""
        calibration = self.calibration
        return {
            "measured": self.synops_per_s_measured,
            "cores": list(calibration.cores) if calibration else [],
            "serial": calibration.serial if calibration else None,
            "date": calibration.date if calibration else None,
            "partial": calibration.partial if calibration else False,
            "note": self.budgets_note,
        }

    def budget_measured(self, core: int) -> bool:
        """Whether ``core``'s SynOps/s budget was measured on a chip."""
        if self.calibration is not None:
            return core in self.calibration.cores
        return self.synops_per_s_measured

    def decimator_interval(self, code: int) -> int:
        """Spikes per passed spike for decimator interval ``code``."""
        return self.decimator_intervals[code]


@dataclass(frozen=True)
class PowerModel:
    """What a chip draws: idle power per rail plus energy per SynOp on each core, spread
    over the rails by ``synop_rail_share``. ``sample_noise_w`` is the power monitor's noise
    (one standard deviation per sample; the emulated monitor adds it)."""

    rails: tuple[str, ...]
    idle_w: tuple[float, ...]
    energy_per_synop_j: tuple[float, ...]
    synop_rail_share: tuple[float, ...]
    sample_noise_w: float
    measured: bool
    offset_w: tuple[float, ...] = ()  # the monitor's constant error per rail (emulator only)

    @property
    def idle_total_w(self) -> float:
        return float(sum(self.idle_w))


@dataclass(frozen=True)
class Calibration:
    """Where a profile's measured figures come from (``[calibration]``, written by
    ``speck-hil calibrate``)."""

    serial: str
    samna_version: str
    date: str
    cores: tuple[int, ...]
    partial: bool


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name: str | Path = "speck2f", override: str | Path | None = None) -> ChipProfile:
    """Load a shipped profile by name (or a complete profile file by path), then merge
    ``override``'s keys into it. Each file is checked against the profile layout
    (``hil.chip.profile_schema``) before anything reads it."""
    path = Path(name) if str(name).endswith(".toml") else PROFILE_DIR / f"{name}.toml"
    if not str(name).endswith(".toml") and not path.is_file():
        raise ProfileError(
            f"no device profile {str(name)!r}; shipped profiles: {', '.join(available_profiles())}"
        )
    data = _read(path, complete=True)
    sources = [str(path)]
    if override is not None:
        _merge(data, _read(Path(override), complete=False))
        sources.append(str(override))
    source = " + ".join(sources)
    problem = profile_problem(data, complete=True)
    if problem:
        raise ProfileError(f"{source}: {problem}")
    return _build(data, source)


def _read(path: Path, complete: bool) -> dict:
    """A profile file's table, checked on its own (an override may hold any subset)."""
    problem = unreadable_file(path)
    if problem:
        raise ProfileError(f"{path}: cannot read the device profile: {problem}")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{path}: not a text (UTF-8) file: byte {exc.start} is invalid"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    problem = profile_problem(data, complete)
    if problem:
        raise ProfileError(f"{path}: {problem}")
    return data


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _build(data: dict, source: str) -> ChipProfile:
    for section, known in (("power", POWER_KEYS), ("calibration", CALIBRATION_KEYS)):
        unknown = sorted(set(data.get(section, {})) - set(known))
        if unknown:
            raise ProfileError(
                f"{source}: unknown key {section}.{unknown[0]} "
                f"(known in [{section}]: {', '.join(known)})"
            )
    try:
        chip, memory, limits = data["chip"], data["memory"], data["limits"]
        timing, stall = data["timing"], data["stall"]
        n_cores = int(chip["n_cores"])
        profile = ChipProfile(
            name=str(chip["name"]),
            device_types=tuple(chip["device_types"]),
            n_cores=n_cores,
            memory=MemoryTable(
                kernel_words=tuple(int(v) for v in memory["kernel_words"]),
                neuron_words=tuple(int(v) for v in memory["neuron_words"]),
                bias_words=tuple(int(v) for v in memory["bias_words"]),
            ),
            limits=ShapeLimits(
                **{k: tuple(v) if isinstance(v, list) else int(v) for k, v in limits.items()}
            ),
            synops_per_s=tuple(float(v) for v in timing["synops_per_s"]),
            synops_per_s_measured=bool(timing["synops_per_s_measured"]),
            pipeline_latency_us=float(timing["pipeline_latency_us"]),
            slow_clk_hz=float(timing["slow_clk_hz"]),
            decimator_intervals=tuple(int(v) for v in data["decimator"]["intervals"]),
            max_delay_us=float(stall["max_delay_us"]),
            max_drain_us=float(stall["max_drain_us"]),
            source=source,
            power=_power(data.get("power"), n_cores),
            calibration=_calibration(data.get("calibration")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{source}: incomplete or malformed profile ({exc!r})") from None
    try:
        faults = faults_from_table(data.get("faults", {}), n_cores, source)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    profile = replace(
        profile,
        noise=_noise(data.get("noise", {}), n_cores, source),
        devkit=_flat_table(DevkitModel, "devkit", data.get("devkit", {}), source),
        faults=faults,
    )
    if profile.power is not None:
        _check_power(profile.power, n_cores, source)
    return profile


#: The numeric noise fields: (lowest, highest, what the number is).
_NOISE_RANGES = {
    "input_loss": (0.0, 1.0, "a probability"),
    "spike_loss": (0.0, 1.0, "a probability"),
    "spurious_spikes": (0.0, 1.0, "a probability per served event"),
    "jitter_us": (0.0, float("inf"), "µs"),
    "misaddressed_spikes": (0.0, 1.0, "a probability"),
}


def _noise(table: object, n_cores: int, source: str) -> NoiseModel:
    """``[noise]`` as a NoiseModel; ProfileError naming the first field that is wrong."""
    if not isinstance(table, dict):
        raise ProfileError(f"{source}: noise must be a table")
    known = {f.name for f in fields(NoiseModel)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProfileError(
            f"{source}: noise.{unknown[0]} is not a noise field (known: {', '.join(sorted(known))})"
        )
    values = {}
    for name, value in table.items():
        where = f"{source}: noise.{name}"
        if name == "stochastic_cores":
            if not isinstance(value, list) or not all(_is_int(v) for v in value):
                raise ProfileError(f"{where} must be a list of core indices; got {value!r}")
            bad = [v for v in value if not 0 <= v < n_cores]
            if bad:
                raise ProfileError(f"{where}: no core {bad[0]} (cores are 0..{n_cores - 1})")
            values[name] = tuple(sorted(set(value)))
        elif name == "seed":
            if not _is_int(value) or value < 0:
                raise ProfileError(f"{where} must be a non-negative integer; got {value!r}")
            values[name] = value
        else:
            low, high, what = _NOISE_RANGES[name]
            if not _is_number(value) or not low <= value <= high:
                raise ProfileError(f"{where} is {what}, in [{low:g}, {high:g}]; got {value!r}")
            values[name] = float(value)
    return NoiseModel(**values)


def _flat_table(model: type, section: str, table: object, source: str):
    """A table of numbers and flags as ``model`` (a dataclass whose defaults give each field's
    type); ProfileError naming the first field that is unknown, of the wrong type or negative."""
    if not isinstance(table, dict):
        raise ProfileError(f"{source}: {section} must be a table")
    defaults = {f.name: f.default for f in fields(model)}
    values = {}
    for name, value in table.items():
        where = f"{source}: {section}.{name}"
        if name not in defaults:
            known = ", ".join(defaults)
            raise ProfileError(f"{where} is not a {section} field (known: {known})")
        if isinstance(defaults[name], bool):
            if not isinstance(value, bool):
                raise ProfileError(f"{where} must be true or false; got {value!r}")
        elif not _is_number(value) or value < 0:
            raise ProfileError(f"{where} must be a number ≥ 0; got {value!r}")
        values[name] = value if isinstance(value, bool) else float(value)
    return model(**values)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


POWER_KEYS = (
    "rails",
    "idle_w",
    "energy_per_synop_j",
    "synop_rail_share",
    "sample_noise_w",
    "measured",
    "offset_w",
)
#: What ``speck-hil calibrate`` writes into [calibration]; only the first few are read back.
CALIBRATION_KEYS = (
    "tool",
    "device",
    "serial",
    "samna_version",
    "date",
    "cores",
    "partial",
    "error",
    "method",
    "synops_per_s_ci",
    "latency_us_per_core",
    "pipeline_latency_us_range",
    "wall_s",
    "device_time_s",
    "sweep",
)


def _power(section: dict | None, n_cores: int) -> PowerModel | None:
    if section is None:
        return None
    return PowerModel(
        rails=tuple(str(v) for v in section["rails"]),
        idle_w=tuple(float(v) for v in section["idle_w"]),
        energy_per_synop_j=tuple(float(v) for v in section["energy_per_synop_j"]),
        synop_rail_share=tuple(float(v) for v in section["synop_rail_share"]),
        sample_noise_w=float(section.get("sample_noise_w", 0.0)),
        measured=bool(section.get("measured", False)),
        offset_w=tuple(float(v) for v in section.get("offset_w", ())),
    )


def _check_power(power: PowerModel, n_cores: int, source: str) -> None:
    rails = len(power.rails)
    if rails == 0:
        raise ProfileError(f"{source}: power.rails must name at least one rail")
    for name, values, what, length in (
        ("idle_w", power.idle_w, "rails", rails),
        ("synop_rail_share", power.synop_rail_share, "rails", rails),
        ("energy_per_synop_j", power.energy_per_synop_j, "cores", n_cores),
    ):
        if len(values) != length:
            raise ProfileError(f"{source}: power.{name} must list {length} {what}")
        if any(not v >= 0 for v in values):  # NaN fails too
            raise ProfileError(f"{source}: power.{name} must not be negative: {list(values)}")
    if abs(sum(power.synop_rail_share) - 1) > 1e-6:
        raise ProfileError(
            f"{source}: power.synop_rail_share must add up to 1 "
            f"(got {sum(power.synop_rail_share):g})"
        )
    if power.offset_w and len(power.offset_w) != rails:
        raise ProfileError(f"{source}: power.offset_w must list {rails} rails")
    if not all(math.isfinite(v) for v in power.offset_w):
        raise ProfileError(f"{source}: power.offset_w must be finite: {list(power.offset_w)}")
    if not power.sample_noise_w >= 0:
        raise ProfileError(f"{source}: power.sample_noise_w must not be negative")


def _calibration(section: dict | None) -> Calibration | None:
    if section is None:
        return None
    return Calibration(
        serial=str(section.get("serial", "")),
        samna_version=str(section.get("samna_version", "")),
        date=str(section.get("date", "")),
        cores=tuple(int(c) for c in section.get("cores", ())),
        partial=bool(section.get("partial", False)),
    )
