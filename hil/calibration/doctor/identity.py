"""The board as a thing on a cable: what it says it is, and what only a hand can test."""

from __future__ import annotations

from hil.calibration.doctor.checkup import Checkup
from hil.calibration.doctor.findings import PASS, UNKNOWN


def identity(checkup: Checkup) -> None:
    info, raw = checkup.bench.device.info, checkup.bench.board.device_info
    usb = f"USB {getattr(raw, 'usb_bus_number', '?')}:{getattr(raw, 'usb_device_address', '?')}"
    logic = info.logic_version if info.logic_version is not None else "not reported"
    facts = {
        "device": str(info),
        "device_type": info.device_type,
        "serial": info.serial,
        "usb": usb.removeprefix("USB "),
        "samna_version": info.samna_version,
        "logic_version": info.logic_version,
    }
    checkup.report.facts["identity"] = facts
    seen = f"samna {info.samna_version}, logic version {logic}, {usb}"
    if info.serial:
        checkup.add("identity", PASS, f"{info.device_type} serial {info.serial}, {seen}")
        return
    checkup.add(
        "identity",
        PASS,
        f"{info.device_type} without a serial, {seen}: known by its USB address, which "
        "changes when it is plugged in again",
    )


def unplug(checkup: Checkup) -> None:
    checkup.add(
        "unplug",
        UNKNOWN,
        "not tested (it needs a hand on the cable): start `speck-hil replay --device "
        "THIS_BOARD ...` with a long recording, pull the USB cable, and check it ends "
        "with a device error within a few seconds and `speck-hil devices` no longer "
        "lists the board",
    )
