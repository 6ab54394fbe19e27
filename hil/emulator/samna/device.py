"""samna.device: the emulated devices this process can list and open.

``HIL_SIM_DEVKITS`` (or ``attach_emulated_devkits``) says what is plugged in: a
comma-separated list of

- ``TYPE`` (a sinabs device id, ``speck2fdevkit``): a board without a serial and with logic
  version 0, as sinabs' docs show a Speck2fDevKit and a Speck2eDevKit;
- ``TYPE@SERIAL``: a board that reports a serial;
- another samna device (``dvxplorer``, ``davis346``, ``dynapse2``, ``xylo``): listed by
  ``get_all_devices()`` as samna lists every device on a host, and not openable here.

Unset, one ``speck2fmodule@SIM0000`` is attached: sinabs' docs show empty serials for the two
devkits, no listing of a module, so the default board keeps the serial the harness's own
tests name it by. Each board has its own USB bus and address; sinabs orders boards of one
type by address. Each process has its own emulated boards. Opening an open board again
returns the same handle, as samna does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hil.chip.devices import DEVICE_TYPES

SIM_DEVKITS_ENV = "HIL_SIM_DEVKITS"
DEFAULT_DEVKITS = ("speck2fmodule@SIM0000",)
#: samna devices that are not Speck boards: ``HIL_SIM_DEVKITS`` name -> ``device_type_name``
#: (sinabs' io.py device table, rockpool's Xylo boards).
OTHER_DEVICES = {
    "dvxplorer": "DVXplorer",
    "davis346": "DAVIS346",
    "dynapse2": "DYNAP-SE2 DevBoard",
    "xylo": "XyloDevKit",
}
#: Emulated boards sit on this USB bus, at addresses from 1 on in listing order.
USB_BUS = 1


@dataclass
class DeviceInfo:
    """A device as samna lists it; sinabs picks devices by ``device_type_name`` and orders
    those of one type by ``usb_device_address``."""

    device_type_name: str = ""
    serial_number: str = ""
    usb_bus_number: int = 0
    usb_device_address: int = 0
    logic_version: int = 0


_attached: list[DeviceInfo] | None = None
_opened: dict[tuple[int, int], Any] = {}


def attach_emulated_devkits(devices: list[str] | tuple[str, ...]) -> list[DeviceInfo]:
    """Emulator only: replace the emulated devices with fresh ones (``TYPE``,
    ``TYPE@SERIAL`` or another samna device's name; see the module's docstring)."""
    global _attached
    infos = []
    for address, entry in enumerate(devices, start=1):
        name, at, serial = entry.strip().partition("@")
        if name in OTHER_DEVICES and not at:
            type_name = OTHER_DEVICES[name]
        elif name in DEVICE_TYPES and (serial or not at):
            type_name = DEVICE_TYPES[name][0]
        else:
            raise ValueError(f"unknown device {entry.strip()!r}; {_expected()}")
        infos.append(DeviceInfo(type_name, serial, USB_BUS, address, logic_version=0))
    _opened.clear()
    _attached = infos
    return list(_attached)


def configured_devkits() -> list[str]:
    """The devices ``HIL_SIM_DEVKITS`` attaches (the default when it is unset or empty); a
    ValueError naming the variable when an entry names nothing."""
    configured = os.environ.get(SIM_DEVKITS_ENV, "")
    entries = [d.strip() for d in configured.split(",") if d.strip()] or list(DEFAULT_DEVKITS)
    for entry in entries:
        name, at, serial = entry.partition("@")
        known = (name in DEVICE_TYPES and (serial or not at)) or (name in OTHER_DEVICES and not at)
        if not known:
            raise ValueError(
                f"{SIM_DEVKITS_ENV}={configured!r}: unknown device {entry!r}; {_expected()}"
            )
    return entries


def _expected() -> str:
    return (
        f"expected a comma-separated list of TYPE or TYPE@SERIAL with TYPE one of "
        f"{', '.join(DEVICE_TYPES)}, or another samna device: {', '.join(OTHER_DEVICES)}"
    )


def get_all_devices() -> list[DeviceInfo]:
    if _attached is None:
        attach_emulated_devkits(configured_devkits())
    return list(_attached)


def get_unopened_devices() -> list[DeviceInfo]:
    return [info for info in get_all_devices() if _usb(info) not in _opened]


def open_device(device: DeviceInfo | str) -> Any:
    """Open a board by DeviceInfo or by ``"TypeName:index"``; re-opening gives the same one.
    Only Speck boards open here; another device raises as a device samna cannot drive."""
    info = _find(device)
    if info.device_type_name in OTHER_DEVICES.values():
        raise RuntimeError(f"{info.device_type_name} is not a Speck board: not emulated")
    if _usb(info) not in _opened:
        from hil.emulator.devkit import EmulatedDevkit
        from hil.emulator.samna import speck2e, speck2f
        from hil.emulator.warmup import warm_up

        warm_up()  # compiled now, not inside the first replay

        chip = _chip_of(info)
        config_type = {"speck2e": speck2e, "speck2f": speck2f}[
            chip
        ].configuration.SpeckConfiguration
        _opened[_usb(info)] = EmulatedDevkit(info, chip, config_type)
    return _opened[_usb(info)]


def close_device(handle: Any) -> None:
    _opened.pop(_usb(handle.info), None)


def emulated_devkit(board: str | int) -> Any:
    """Emulator only: the open board with this serial, or at this USB address (to inject
    faults into it)."""
    for usb, devkit in _opened.items():
        if board in (devkit.info.serial_number, usb[1]):
            return devkit
    raise KeyError(f"no open emulated board {board!r}")


def _usb(info: DeviceInfo) -> tuple[int, int]:
    return (info.usb_bus_number, info.usb_device_address)


def _chip_of(info: DeviceInfo) -> str:
    return next(chip for name, chip in DEVICE_TYPES.values() if name == info.device_type_name)


def _find(device: DeviceInfo | str) -> DeviceInfo:
    devices = get_all_devices()
    if isinstance(device, DeviceInfo):
        for info in devices:
            if _usb(info) == _usb(device):
                return info
        raise RuntimeError(f"no device at USB {device.usb_bus_number}:{device.usb_device_address}")
    name, _, index = str(device).partition(":")
    matching = sorted(
        (d for d in devices if d.device_type_name == name), key=lambda d: d.usb_device_address
    )
    position = int(index or 0)
    if position >= len(matching):
        raise RuntimeError(f"no device {device!r} is attached")
    return matching[position]
