"""The layout of a device profile, and the check that a profile file keeps to it.

Every key the harness reads is declared here with what a physically possible value is, so a
profile that would make the harness compute nonsense (a zero slow clock, a negative latency,
NaN budgets, ``synops_per_s_measured = "no"``, budgets in the wrong unit) is refused when it
is loaded, with one line naming the file, the key and what is wrong.

Sections listed in ``OWN_CHECK_SECTIONS`` are read (and checked) by the code that uses them;
here they only have to be tables. Any other unknown section or key is refused: a typo in a lab's
override must not be silently ignored. To add a key, add one line to ``SECTIONS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The smallest per-core SynOps/s budget a profile may state. A core of a real chip serves
#: millions; a figure below this is a units slip (SynOps per ms, or MSynOps/s), and it would make
#: the emulated chip's queues, and every series over the run's span, absurdly long.
MIN_SYNOPS_PER_S = 1e4
#: The most cores a profile may describe (Speck has 9); bounds the per-core tables.
MAX_CORES = 64

#: Sections read elsewhere (the emulator's noise model, the power model, calibration notes):
#: their owners check their keys.
OWN_CHECK_SECTIONS = ("noise", "devkit", "faults", "power", "calibration")


@dataclass(frozen=True)
class Key:
    """One profile key: its kind and the range a physically possible value lies in.

    ``kind`` is ``int``, ``float``, ``bool``, ``str``; ``per_core``/``count`` make it a list
    (of ``n_cores`` entries, or of exactly ``count``); ``minimum`` is inclusive unless
    ``exclusive``.
    """

    kind: type
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False
    per_core: bool = False
    count: int | None = None
    is_list: bool = False
    unit: str = ""

    @property
    def listed(self) -> bool:
        return self.per_core or self.count is not None or self.is_list


def _positive(kind: type = int, **extra) -> Key:
    return Key(kind, minimum=0, exclusive=True, **extra)


SECTIONS: dict[str, dict[str, Key]] = {
    "chip": {
        "name": Key(str),
        "device_types": Key(str, is_list=True),
        "n_cores": Key(int, minimum=1, maximum=MAX_CORES),
    },
    "memory": {
        "kernel_words": Key(int, minimum=0, per_core=True, unit="words"),
        "neuron_words": Key(int, minimum=0, per_core=True, unit="words"),
        "bias_words": Key(int, minimum=0, per_core=True, unit="words"),
    },
    "limits": {
        "max_input_size": _positive(),
        "max_output_size": _positive(),
        "max_channels": _positive(),
        "max_kernel_size": _positive(),
        "strides": _positive(is_list=True),
        "max_padding": Key(int, minimum=0),
        "poolings": _positive(is_list=True),
        "weight_bits": Key(int, minimum=2, maximum=32),
        "state_bits": Key(int, minimum=2, maximum=64),
    },
    "timing": {
        "synops_per_s": Key(float, minimum=MIN_SYNOPS_PER_S, per_core=True, unit="SynOps/s"),
        "synops_per_s_measured": Key(bool),
        "pipeline_latency_us": Key(float, minimum=0, maximum=1e6, unit="µs"),
        "slow_clk_hz": _positive(float, maximum=1e9, unit="Hz"),
    },
    "decimator": {
        "intervals": _positive(count=8),
    },
    "stall": {
        "max_delay_us": _positive(float, unit="µs"),
        "max_drain_us": _positive(float, unit="µs"),
    },
}


def profile_problem(data: dict, complete: bool) -> str | None:
    """What is wrong with a profile's parsed TOML, or None.

    ``complete`` asks for every key (a whole profile); an override may hold any subset, and
    its per-core lists are checked against its own ``chip.n_cores`` if it has one.
    """
    for section, table in data.items():
        if section in OWN_CHECK_SECTIONS:
            if not isinstance(table, dict):
                return f"[{section}] must be a table"
            continue
        keys = SECTIONS.get(section)
        if keys is None:
            known = ", ".join(f"[{s}]" for s in (*SECTIONS, *OWN_CHECK_SECTIONS))
            return f"unknown section [{section}] (known: {known})"
        if not isinstance(table, dict):
            return f"[{section}] must be a table, not a {_type_name(table)}"
        for key in table:
            if key not in keys:
                return f"unknown key {section}.{key} (known in [{section}]: {', '.join(keys)})"
    n_cores = data.get("chip", {}).get("n_cores")
    problem = _value_problem("chip.n_cores", n_cores, SECTIONS["chip"]["n_cores"], None)
    if n_cores is not None and problem:
        return problem
    for section, keys in SECTIONS.items():
        table = data.get(section, {})
        for key, spec in keys.items():
            name = f"{section}.{key}"
            if key not in table:
                if complete:
                    return f"missing {name}"
                continue
            problem = _value_problem(name, table[key], spec, n_cores)
            if problem:
                return problem
    return None


def _value_problem(name: str, value: object, spec: Key, n_cores: int | None) -> str | None:
    if value is None:
        return f"missing {name}"
    if not spec.listed:
        return _scalar_problem(name, value, spec)
    if not isinstance(value, list):
        return f"{name} must be a list, not {_shown(value)}"
    expected = n_cores if spec.per_core else spec.count
    if expected is not None and len(value) != expected:
        what = f"{expected} cores (chip.n_cores)" if spec.per_core else f"{expected} entries"
        return f"{name} lists {len(value)} values; it must list {what}"
    if spec.is_list and not value:
        return f"{name} is empty"
    for index, item in enumerate(value):
        problem = _scalar_problem(f"{name}[{index}]", item, spec)
        if problem:
            return problem
    return None


def _scalar_problem(name: str, value: object, spec: Key) -> str | None:
    if spec.kind is bool:
        return (
            None
            if isinstance(value, bool)
            else f"{name} must be true or false, not {_shown(value)}"
        )
    if spec.kind is str:
        return None if isinstance(value, str) and value else f"{name} must be a non-empty string"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} must be a number, not {_shown(value)}"
    whole = not isinstance(value, float) or (math.isfinite(value) and value.is_integer())
    if spec.kind is int and not whole:
        return f"{name} must be a whole number, not {_shown(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} is {value}; it must be a finite number"
    unit = f" {spec.unit}" if spec.unit else ""
    low = spec.minimum
    if low is not None and (value < low or (spec.exclusive and value == low)):
        relation = ">" if spec.exclusive else "≥"
        return f"{name} is {value:g}{unit}; it must be {relation} {low:g}{_hint(spec)}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{name} is {value:g}{unit}; it must be ≤ {spec.maximum:g}"
    return None


def _hint(spec: Key) -> str:
    if spec.unit == "SynOps/s" and spec.minimum == MIN_SYNOPS_PER_S:
        return " (a units slip? budgets are SynOps per second, e.g. 5e7)"
    return ""


def _shown(value: object) -> str:
    return f"{value!r} ({_type_name(value)})"


def _type_name(value: object) -> str:
    return {dict: "table", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
