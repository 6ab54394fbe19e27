"""What ``--device`` accepts, parsed into a ``DeviceSpec``.

- ``speck2fmodule``, ``speck2fmodule:1``, ``speck2fmodule@SERIAL``, ``speck2fdevkit``,
  ``speck2edevkit``: a real devkit through the real samna; a board without a serial is
  ``TYPE:INDEX`` or ``TYPE@usb:BUS:ADDRESS`` (lsusb's bus and device number; never ``TYPE@``);
- ``sim`` (the default) or ``sim:speck2fmodule`` (also ``sim:speck2fmodule:1`` /
  ``@SERIAL``): the emulated devkit, driven through the same samna code path;
- ``speck2fmodule:*`` or ``sim:speck2fmodule:*``: a pool, every attached board of the type
  (``hil.lab.pool`` leases one of them);
- ``labgrid:PLACE``: the Speck devkit of a labgrid place, acquired through labgrid's
  coordinator; ``labgrid:TAG=VALUE[,TAG=VALUE...]``: a pool of the places with those tags
  (``hil.lab.labgrid.pool`` acquires one of them);
- ``sinabs``: sinabs' time-stepped forward of the discretized network;
- ``specksim``: samna's own simulator, where real samna is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hil.chip.devices import DEVICE_TYPES

DEFAULT_DEVICE_TYPE = "speck2fmodule"
SOFTWARE_KINDS = ("sinabs", "specksim")
_SPEC = re.compile(
    r"^(?P<type>[A-Za-z0-9]+)(?::(?P<index>\d+)|:(?P<pool>\*)|@usb:(?P<bus>\d+):(?P<address>\d+)"
    r"|@(?P<serial>[^\s@:]+))?$"
)

_PLACE = re.compile(r"^[A-Za-z0-9][\w.-]*$")
#: A labgrid place tag: the key as ``labgrid-client set-tags`` takes it, a value without , or =.
_TAG = re.compile(r"^(?P<key>[a-z][a-z0-9_]+)=(?P<value>[\w.-]+)$")
LABGRID_FORMS = (
    "labgrid:PLACE (one place) or labgrid:TAG=VALUE[,TAG=VALUE...] (a pool of the places with "
    "all those tags, e.g. labgrid:board=speck2f; TAG: a lower-case letter, then letters, digits, _)"
)


class DeviceSpecError(ValueError):
    """A ``--device`` value that names nothing the harness knows."""


@dataclass(frozen=True)
class DeviceSpec:
    """``kind`` is "real", "emulated", "sinabs" or "specksim"."""

    kind: str
    device_type: str = DEFAULT_DEVICE_TYPE
    index: int | None = None
    serial: str | None = None
    text: str = ""
    pool: bool = False  # every attached board of the type (``TYPE:*``)
    place: str | None = None  # a labgrid place (``labgrid:PLACE``)
    place_tags: tuple[tuple[str, str], ...] = ()  # a labgrid pool (``labgrid:TAG=VALUE,...``)
    usb: tuple[int, int] | None = None  # (bus, address) of a board without a serial

    @property
    def board_id(self) -> str | None:
        """What names the one board this spec names: its serial, or ``usb:BUS:ADDRESS``."""
        if self.serial is not None:
            return self.serial
        return f"usb:{self.usb[0]}:{self.usb[1]}" if self.usb is not None else None

    @property
    def samna_type_name(self) -> str:
        return DEVICE_TYPES[self.device_type][0]

    @property
    def profile_name(self) -> str:
        return DEVICE_TYPES[self.device_type][1]

    def __str__(self) -> str:
        return self.text or self.kind


def parse_device_spec(text: str) -> DeviceSpec:
    """Parse a ``--device`` value; an unknown one is an error listing what exists."""
    spec = text.strip()
    if spec.lower() in SOFTWARE_KINDS:
        return DeviceSpec(kind=spec.lower(), text=text)
    if spec.lower() == "sim":
        return DeviceSpec(kind="emulated", text=text)
    if spec.lower().startswith("labgrid:"):
        return _labgrid_spec(spec[8:], text)
    kind = "real"
    if spec.lower().startswith("sim:"):
        kind, spec = "emulated", spec[4:]
    match = _SPEC.match(spec)
    device_type = match["type"].lower() if match else None
    if device_type not in DEVICE_TYPES:
        raise DeviceSpecError(f"unknown device {text!r}; {known_specs()}")
    index = int(match["index"]) if match["index"] is not None else None
    usb = (int(match["bus"]), int(match["address"])) if match["bus"] is not None else None
    pool = match["pool"] is not None
    return DeviceSpec(kind, device_type, index, match["serial"], text, pool, usb=usb)


def board_spec(kind: str, device_type: str, board: str) -> DeviceSpec:
    """The spec of one board by its id (a serial, or ``usb:BUS:ADDRESS``)."""
    return parse_device_spec(f"{'sim:' if kind == 'emulated' else ''}{device_type}@{board}")


def _labgrid_spec(selector: str, text: str) -> DeviceSpec:
    if _PLACE.match(selector):
        return DeviceSpec(kind="labgrid", text=text, place=selector)
    tags = [_TAG.match(pair) for pair in selector.split(",")]
    keys = [tag["key"] for tag in tags if tag]
    if not all(tags) or len(set(keys)) != len(keys):
        raise DeviceSpecError(f"malformed labgrid device {text!r}: expected {LABGRID_FORMS}")
    pairs = tuple(sorted((tag["key"], tag["value"]) for tag in tags))
    return DeviceSpec(kind="labgrid", text=text, pool=True, place_tags=pairs)


def known_specs() -> str:
    types = ", ".join(DEVICE_TYPES)
    return (
        f"devices are sim, sim:TYPE, TYPE, TYPE:INDEX, TYPE@SERIAL, TYPE@usb:BUS:ADDRESS (a "
        f"board without a serial) or TYPE:* (every board of the type) with TYPE one of "
        f"{types}; labgrid:PLACE or labgrid:TAG=VALUE; "
        "or sinabs, specksim (`speck-hil devices` lists what is attached)"
    )
