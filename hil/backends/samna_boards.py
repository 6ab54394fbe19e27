"""Which samna board a device spec names, and what names a board: its serial, or its USB
address for a board without one."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hil.backends.base import DeviceUnavailable
from hil.backends.spec import DeviceSpec


def board_id(device_info: Any) -> str:
    """What names one board: its serial, or for a board without one (sinabs' docs show
    ``serial_number=`` for a Speck2fDevKit and a Speck2eDevKit) its USB bus and address,
    ``usb:BUS:ADDRESS`` (lsusb's spelling; it changes when the board is re-plugged)."""
    serial = str(getattr(device_info, "serial_number", "") or "")
    if serial:
        return serial
    return f"usb:{device_info.usb_bus_number}:{device_info.usb_device_address}"


def select_device_info(samna: ModuleType, spec: DeviceSpec) -> Any:
    """The DeviceInfo that ``spec`` names, indices ordered by USB address as sinabs does."""
    listed = list(samna.device.get_all_devices())
    matching = sorted(
        (d for d in listed if d.device_type_name == spec.samna_type_name),
        key=lambda d: d.usb_device_address,
    )
    attached = ", ".join(f"{d.device_type_name}@{board_id(d)}" for d in listed) or "none"
    if spec.usb is not None:
        for device in matching:
            if (device.usb_bus_number, device.usb_device_address) == spec.usb:
                return device
        raise DeviceUnavailable(
            str(spec),
            f"no {spec.samna_type_name} at USB {spec.usb[0]}:{spec.usb[1]} (attached: {attached})",
        )
    if spec.serial is not None:
        for device in matching:
            if str(device.serial_number) == spec.serial:
                return device
        raise DeviceUnavailable(
            str(spec), f"no {spec.samna_type_name} with serial {spec.serial} (attached: {attached})"
        )
    index = spec.index or 0
    if index >= len(matching):
        raise DeviceUnavailable(
            str(spec),
            f"no {spec.samna_type_name} number {index} (attached: {attached}); "
            "run `speck-hil devices` to list devices",
        )
    return matching[index]


def logic_version(device_info: Any) -> str | None:
    """The board's logic version, for the run record's provenance; None where samna's
    device info has none."""
    version = getattr(device_info, "logic_version", None)
    return None if version is None else str(version)
