"""samna.device: the emulated devkits this process can list and open.

By default one ``Speck2fModuleDevKit`` is attached; ``attach_emulated_devkits`` (or the
environment variable ``HIL_SIM_DEVKITS``, a comma-separated list of sinabs device ids such as
``speck2fmodule,speck2edevkit``) sets what is plugged in. Each process has its own emulated
boards. Opening an open board again returns the same handle, as samna does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hil.chip.devices import DEVICE_TYPES

SIM_DEVKITS_ENV = "HIL_SIM_DEVKITS"
DEFAULT_DEVKITS = ("speck2fmodule",)


@dataclass
class DeviceInfo:
    """A devkit as samna lists it; sinabs picks devices by ``device_type_name`` and orders
    those of one type by ``usb_device_address``."""

    device_type_name: str = ""
    serial_number: str = ""
    usb_bus_number: int = 0
    usb_device_address: int = 0
    logic_version: int = 0


_attached: list[DeviceInfo] | None = None
_opened: dict[str, Any] = {}


def attach_emulated_devkits(device_ids: list[str] | tuple[str, ...]) -> list[DeviceInfo]:
    """Emulator only: replace the emulated boards with fresh ones of these types."""
    global _attached
    unknown = [d for d in device_ids if d not in DEVICE_TYPES]
    if unknown:
        raise ValueError(f"unknown devkit type {unknown[0]!r}; known: {', '.join(DEVICE_TYPES)}")
    _opened.clear()
    _attached = [
        DeviceInfo(
            device_type_name=DEVICE_TYPES[device_id][0],
            serial_number=f"SIM{index:04d}",
            usb_bus_number=0,
            usb_device_address=index + 1,
            logic_version=0,
        )
        for index, device_id in enumerate(device_ids)
    ]
    return list(_attached)


def configured_devkits() -> list[str]:
    """The devkit types ``HIL_SIM_DEVKITS`` attaches (the default when it is unset or empty);
    a ValueError naming the variable when it names an unknown type."""
    configured = os.environ.get(SIM_DEVKITS_ENV, "")
    ids = [d.strip() for d in configured.split(",") if d.strip()] or list(DEFAULT_DEVKITS)
    unknown = [d for d in ids if d not in DEVICE_TYPES]
    if unknown:
        raise ValueError(
            f"{SIM_DEVKITS_ENV}={configured!r}: unknown devkit type {unknown[0]!r}; expected a "
            f"comma-separated list of {', '.join(DEVICE_TYPES)}"
        )
    return ids


def get_all_devices() -> list[DeviceInfo]:
    if _attached is None:
        attach_emulated_devkits(configured_devkits())
    return list(_attached)


def get_unopened_devices() -> list[DeviceInfo]:
    return [info for info in get_all_devices() if info.serial_number not in _opened]


def open_device(device: DeviceInfo | str) -> Any:
    """Open a board by DeviceInfo or by ``"TypeName:index"``; re-opening gives the same one."""
    info = _find(device)
    if info.serial_number not in _opened:
        from hil.emulator.devkit import EmulatedDevkit
        from hil.emulator.samna import speck2e, speck2f
        from hil.emulator.warmup import warm_up

        warm_up()  # compiled now, not inside the first replay

        chip = _chip_of(info)
        config_type = {"speck2e": speck2e, "speck2f": speck2f}[
            chip
        ].configuration.SpeckConfiguration
        _opened[info.serial_number] = EmulatedDevkit(info, chip, config_type)
    return _opened[info.serial_number]


def close_device(handle: Any) -> None:
    _opened.pop(handle.info.serial_number, None)


def emulated_devkit(serial_number: str) -> Any:
    """Emulator only: the open board with this serial (to inject faults into it)."""
    return _opened[serial_number]


def _chip_of(info: DeviceInfo) -> str:
    return next(chip for name, chip in DEVICE_TYPES.values() if name == info.device_type_name)


def _find(device: DeviceInfo | str) -> DeviceInfo:
    devices = get_all_devices()
    if isinstance(device, DeviceInfo):
        for info in devices:
            if info.serial_number == device.serial_number:
                return info
        raise RuntimeError(f"no device with serial {device.serial_number!r} is attached")
    name, _, index = str(device).partition(":")
    matching = sorted(
        (d for d in devices if d.device_type_name == name), key=lambda d: d.usb_device_address
    )
    position = int(index or 0)
    if position >= len(matching):
        raise RuntimeError(f"no device {device!r} is attached")
    return matching[position]
