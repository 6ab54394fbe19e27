"""How the harness talks to a device: ``open_device(spec)`` for every ``--device`` value."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hil.backends.base import (
    DeployError,
    Deployment,
    Device,
    DeviceError,
    DeviceInfo,
    DeviceUnavailable,
    Run,
)
from hil.backends.spec import DeviceSpec, DeviceSpecError, parse_device_spec
from hil.chip.profile import ChipProfile, load_profile
from hil.emulator.detect import SamnaInstall, detect_samna

__all__ = [
    "DeployError",
    "Deployment",
    "Device",
    "DeviceError",
    "DeviceInfo",
    "DeviceSpec",
    "DeviceSpecError",
    "DeviceUnavailable",
    "ListedDevice",
    "Run",
    "detect_samna",
    "list_devices",
    "open_device",
    "parse_device_spec",
]

#: After the barrier's reply, a real chip's sink must stay empty this long to count as quiet.
REAL_QUIET_MS = 50


def open_device(spec: str | DeviceSpec, profile: str | os.PathLike | None = None) -> Device:
    """Open what ``spec`` names; ``profile`` is a lab's override file for the device profile.

    The profile is what the harness believes about the chip. An emulated devkit's own physics
    come from ``HIL_SIM_PROFILE`` (``hil.emulator.truth``), never from ``profile``.

    Raises ``DeviceSpecError`` for a spec that names nothing, ``DeviceUnavailable`` when the
    device cannot be had here (none attached, or only the placeholder samna installed), and
    ``DeviceError`` when it fails while being opened (a board that vanishes halfway).
    """
    if isinstance(spec, str):
        spec = parse_device_spec(spec)
    if spec.kind == "labgrid":
        raise DeviceSpecError(
            f"{spec} is a labgrid place: acquire it first (hil.lab.labgrid.pool.LabgridPool), "
            "then open its devkit"
        )
    if spec.pool:
        raise DeviceSpecError(
            f"{spec} names every attached {spec.device_type}, not one board; open one "
            f"({spec.device_type}@SERIAL) or lease one with hil.lab.pool.BoardPool"
        )
    chip_profile = load_profile(spec.profile_name, override=profile)
    try:
        return _open(spec, chip_profile)
    except (DeviceError, ValueError):  # the device's own error, or bad input (a profile)
        raise
    except Exception as exc:  # samna raises RuntimeError (and others) for a vanished board
        raise DeviceError(str(spec), f"failed while opening: {exc}") from exc


def _open(spec: DeviceSpec, chip_profile: ChipProfile) -> Device:
    if spec.kind == "sinabs":
        from hil.backends.sinabs_backend import SinabsDevice

        return SinabsDevice(spec, chip_profile)
    if spec.kind == "emulated":
        import hil.emulator.samna as emulated_samna
        from hil.backends.samna_backend import SamnaDevice

        return SamnaDevice(
            emulated_samna,
            spec,
            chip_profile,
            kind="emulated",
            samna_version="emulated",
            quiet_ms=0,
        )
    install = detect_samna()
    if install.kind != "real":
        raise DeviceUnavailable(str(spec), no_real_samna(install))
    if spec.kind == "specksim":
        raise DeviceUnavailable(
            str(spec), "the specksim backend is not implemented yet; use sim or sinabs"
        )
    import samna

    from hil.backends.samna_backend import SamnaDevice

    return SamnaDevice(
        samna,
        spec,
        chip_profile,
        kind="real",
        samna_version=install.version or "unknown",
        quiet_ms=REAL_QUIET_MS,
    )


def no_real_samna(install: SamnaInstall) -> str:
    """Why no real devkit can be opened, and what to do about it."""
    if install.kind == "placeholder":
        how = install.install_command or "pip install samna from SynSense's package index"
        return (
            f"no devkit can be opened: the installed samna {install.version or ''} is PyPI's "
            f"placeholder, not the real library; on a lab machine run: {how}"
        )
    return (
        "no devkit can be opened: samna is not installed "
        "(pip install 'speck-hil[hardware]' on a lab machine)"
    )


@dataclass(frozen=True)
class ListedDevice:
    spec: str
    kind: str
    description: str


def list_devices() -> list[ListedDevice]:
    """Every device this machine can open: real devkits (when real samna is installed), the
    emulated devkits, and the software backends."""
    import hil.emulator.samna as emulated_samna
    from hil.chip.devices import DEVICE_TYPES

    names = {samna_name: sinabs_id for sinabs_id, (samna_name, _) in DEVICE_TYPES.items()}
    listed = []
    install = detect_samna()
    if install.kind == "real":
        import samna

        for info in samna.device.get_all_devices():
            sinabs_id = names.get(info.device_type_name, info.device_type_name)
            listed.append(
                ListedDevice(
                    f"{sinabs_id}@{info.serial_number}",
                    "real",
                    f"{info.device_type_name}, USB {info.usb_bus_number}:{info.usb_device_address}",
                )
            )
    for info in emulated_samna.device.get_all_devices():
        sinabs_id = names.get(info.device_type_name, info.device_type_name)
        listed.append(
            ListedDevice(f"sim:{sinabs_id}@{info.serial_number}", "emulated", info.device_type_name)
        )
    listed.append(ListedDevice("sinabs", "sinabs", "sinabs' time-stepped forward (software)"))
    if install.kind == "real":
        listed.append(ListedDevice("specksim", "specksim", "samna's C++ simulator (software)"))
    return listed
