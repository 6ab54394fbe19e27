"""samna.device: what identifies a devkit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeviceInfo:
    """A devkit as samna lists it; sinabs picks devices by ``device_type_name`` and orders
    those of one type by ``usb_device_address``."""

    device_type_name: str = ""
    serial_number: str = ""
    usb_bus_number: int = 0
    usb_device_address: int = 0
    logic_version: int = 0
