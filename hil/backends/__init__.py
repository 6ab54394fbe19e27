"""How the harness talks to a device: ``open_device(spec)`` for every ``--device`` value."""

from __future__ import annotations

import os
from collections.abc import Iterable
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

#: After the barrier's reply, no monitored spike may arrive for this long on a real chip for
#: it to count as quiet: sinabs polls every 100 ms, and outputs can arrive later than
#: expected (sinabs#165).
REAL_QUIET_MS = 100
#: Set to 1, the emulated devkit's spikes travel as arrays (its fast path, for benchmarks
#: and big emulated runs); unset, as samna's event objects, the path a devkit takes.
SIM_ARRAYS_ENV = "HIL_SIM_ARRAYS"


def sim_arrays() -> bool:
    """Whether ``HIL_SIM_ARRAYS`` asks for the emulated devkit's array fast path; a
    ValueError naming the variable for anything but 0 or 1."""
    value = os.environ.get(SIM_ARRAYS_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{SIM_ARRAYS_ENV}={value!r}: expected 1 (the array fast path) or 0")
    return value == "1"


def open_device(
    spec: str | DeviceSpec,
    profile: str | os.PathLike | None = None,
    quiet_ms: int | None = None,
) -> Device:
    """Open what ``spec`` names; ``profile`` is a lab's override file for the device profile;
    ``quiet_ms`` how long a real chip must send no monitored spike after the barrier's
    reply to count as quiet (default ``REAL_QUIET_MS``).

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
    if quiet_ms is not None and not quiet_ms > 0:
        raise ValueError(f"quiet_ms must be a positive number of ms; got {quiet_ms!r}")
    chip_profile = load_profile(spec.profile_name, override=profile)
    try:
        return _open(spec, chip_profile, quiet_ms or REAL_QUIET_MS)
    except (DeviceError, ValueError):  # the device's own error, or bad input (a profile)
        raise
    except Exception as exc:  # samna raises RuntimeError (and others) for a vanished board
        raise DeviceError(str(spec), f"failed while opening: {exc}") from exc


def _open(spec: DeviceSpec, chip_profile: ChipProfile, quiet_ms: int) -> Device:
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
            arrays=sim_arrays(),
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
        quiet_ms=quiet_ms,
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
    """One line of ``speck-hil devices``: ``spec`` opens it (empty for a device the harness
    cannot drive, listed with a note)."""

    spec: str
    kind: str
    description: str


def list_devices() -> list[ListedDevice]:
    """Every device this machine can open: real devkits (when real samna is installed), the
    emulated devkits, and the software backends. samna lists every device on the host; one
    that is not a Speck board (a DVXplorer, a DAVIS, a Xylo) is listed with kind ``other``
    and no spec. A board without a serial is named ``TYPE@usb:BUS:ADDRESS``."""
    import hil.emulator.samna as emulated_samna

    listed = []
    install = detect_samna()
    if install.kind == "real":
        import samna

        listed += _listed(samna.device.get_all_devices(), "real", "")
    listed += _listed(emulated_samna.device.get_all_devices(), "emulated", "sim:")
    listed.append(ListedDevice("sinabs", "sinabs", "sinabs' time-stepped forward (software)"))
    if install.kind == "real":
        listed.append(ListedDevice("specksim", "specksim", "samna's C++ simulator (software)"))
    return listed


def _listed(infos: Iterable, kind: str, prefix: str) -> list[ListedDevice]:
    from hil.backends.samna_boards import board_id
    from hil.chip.devices import DEVICE_TYPES

    names = {samna_name: sinabs_id for sinabs_id, (samna_name, _) in DEVICE_TYPES.items()}
    listed = []
    for info in infos:
        usb = f"USB {info.usb_bus_number}:{info.usb_device_address}"
        sinabs_id = names.get(info.device_type_name)
        if sinabs_id is None:
            note = f"{info.device_type_name}, {usb}: not a Speck board, skipped"
            listed.append(ListedDevice("", "other", note))
            continue
        serial = (
            f"serial {info.serial_number}"
            if info.serial_number
            else "no serial (named by its USB bus and address)"
        )
        description = f"{info.device_type_name}, {usb}, {serial}"
        if kind == "emulated":
            description += ", emulated"
        listed.append(ListedDevice(f"{prefix}{sinabs_id}@{board_id(info)}", kind, description))
    return listed
