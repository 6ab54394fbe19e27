"""Speck devkits shared between hosts through labgrid: the resource, and holding a place.

A lab exports each devkit from the host it is plugged into as a ``SpeckDevkit`` resource
(matched by serial; ``python -m hil.lab.labgrid.exporter``) and puts it in a labgrid place;
``hil.lab.labgrid.pool`` acquires such places for a session. labgrid keeps a place acquired until
someone releases it, even when its holder died, so every acquired place gets a small watcher
process that releases it as soon as the session's process is gone, however it ended.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable

import attr
import grpc
from labgrid.factory import target_factory
from labgrid.remote.client import start_session
from labgrid.remote.generated import labgrid_coordinator_pb2
from labgrid.resource.common import Resource

from hil.backends import list_devices, parse_device_spec
from hil.backends.spec import DeviceSpec, board_spec
from hil.lab.pool import NoBoardFree

RESOURCE_CLASS = "SpeckDevkit"
COORDINATOR_ENV = "LG_COORDINATOR"
DEFAULT_COORDINATOR = "127.0.0.1:20408"
#: How long ending a lease may take (the watcher releases the place, then exits).
RELEASE_TIMEOUT_S = 30.0
#: What an exported ``SpeckDevkit`` says about itself (besides the exporter's ``host``).
DEVKIT_FIELDS = ("serial", "usb", "device_type", "emulated")


@target_factory.reg_resource
@attr.s(eq=False)
class SpeckDevkit(Resource):
    """A Speck devkit plugged into this host, matched by its serial, or for a board without
    one (``serial = ""``) by ``usb = "BUS:ADDRESS"`` (which changes when it is re-plugged).

    ``device_type`` is sinabs' device id (``speck2fmodule``...); ``emulated`` names one of
    the emulated boards ``HIL_SIM_DEVKITS`` attaches. ``avail`` says whether it is attached.
    """

    serial = attr.ib(default="", validator=attr.validators.instance_of(str))
    device_type = attr.ib(default="speck2fmodule", validator=attr.validators.instance_of(str))
    emulated = attr.ib(default=False, validator=attr.validators.instance_of(bool))
    usb = attr.ib(default="", validator=attr.validators.instance_of(str))

    def __attrs_post_init__(self):
        if not self.serial and not self.usb:
            raise ValueError("a SpeckDevkit needs its serial, or usb = 'BUS:ADDRESS' without one")
        super().__attrs_post_init__()

    @property
    def spec(self) -> DeviceSpec:
        kind = "emulated" if self.emulated else "real"
        return board_spec(kind, self.device_type, self.serial or f"usb:{self.usb}")

    def poll(self) -> None:
        wanted = self.spec
        self.avail = any(
            (spec.kind, spec.device_type, spec.board_id)
            == (wanted.kind, wanted.device_type, wanted.board_id)
            for spec in (parse_device_spec(listed.spec) for listed in list_devices() if listed.spec)
        )


class NotDrivable(Exception):
    """A place whose devkit this host cannot drive; the message says why."""


def coordinator_address() -> str:
    return os.environ.get(COORDINATOR_ENV) or DEFAULT_COORDINATOR


class Coordinator:
    """A client session with labgrid's coordinator: its places and resources, kept in sync."""

    def __init__(self, address: str):
        self.address = address
        try:
            self.session = start_session(address)
        except Exception as exc:  # labgrid raises its own errors and grpc's
            raise NoBoardFree(f"labgrid coordinator {address}: {exc}") from None

    def _run(self, coroutine):
        try:
            return self.session.loop.run_until_complete(coroutine)
        except grpc.RpcError as exc:  # the coordinator went away
            raise NoBoardFree(f"labgrid coordinator {self.address}: {exc}") from None

    @property
    def places(self) -> dict:
        return self.session.places

    def sync(self) -> None:
        self._run(self.session.sync_with_coordinator())

    def acquire(self, place: str) -> str | None:
        """None when ``place`` is now ours; else why not (who holds it)."""
        request = labgrid_coordinator_pb2.AcquirePlaceRequest(placename=place)
        try:
            self.session.loop.run_until_complete(self.session.stub.AcquirePlace(request))
        except grpc.aio.AioRpcError as exc:
            self.sync()
            holder = self.places[place].acquired if place in self.places else None
            return f"acquired by {holder}" if holder else exc.details()
        self.sync()
        return None

    def devkit(self, place: str, paths: Iterable[tuple[str, str, str, str]] | None = None):
        """The devkit of ``place`` (of the resources ``paths``, by default those its matches
        name), which this host must be able to drive; raises ``NotDrivable`` saying why not."""
        entry = self.places[place]
        if paths is None:
            paths = [
                (exporter, group, RESOURCE_CLASS, name)
                for exporter, groups in sorted(self.session.resources.items())
                for group, resources in sorted(groups.items())
                for name, resource in sorted(resources.items())
                if resource.cls == RESOURCE_CLASS
                and entry.hasmatch((exporter, group, RESOURCE_CLASS, name))
            ]
        devkits = [path for path in paths if path[2] == RESOURCE_CLASS]
        if len(devkits) != 1:
            raise NotDrivable(
                f"it holds {len(devkits)} {RESOURCE_CLASS} resources; a place for speck-hil "
                f"holds exactly one (add a match: EXPORTER/GROUP/{RESOURCE_CLASS}/NAME)"
            )
        exporter, group, cls, name = devkits[0]
        resource = self.session.resources[exporter][group][name]
        where = f"{exporter}/{group}/{cls}/{name}"
        fields = {k: v for k, v in resource.args.items() if k in DEVKIT_FIELDS}
        try:
            devkit = SpeckDevkit(None, name, **fields)
        except (TypeError, ValueError) as exc:
            raise NotDrivable(f"{where} is not a Speck devkit: {exc}") from None
        host = resource.args.get("host")
        if not devkit.emulated and host and not _is_this_host(host):
            raise NotDrivable(
                f"its devkit {devkit.spec.board_id} is plugged into {host}, not this host "
                f"({socket.gethostname()}): run the session on {host}"
            )
        if not resource.avail:
            raise NotDrivable(f"{where} ({devkit.spec.board_id}) is not attached")
        return devkit.spec

    def release(self, place: str, holder: str) -> None:
        """Release ``place`` if ``holder`` still holds it."""
        request = labgrid_coordinator_pb2.ReleasePlaceRequest(placename=place, fromuser=holder)
        self._run(self.session.stub.ReleasePlace(request))

    def close(self) -> None:
        self._run(self.session.stop())
        self._run(self.session.close())


def _is_this_host(host: str) -> bool:
    """Whether an exporter's ``host`` (its name, or with ``--fqdn`` its full one) is us."""
    return host == socket.gethostname() or host == socket.getfqdn()


def client_name() -> str:
    """How labgrid's coordinator names this client (it records it as the place's holder)."""
    host = os.environ.get("LG_HOSTNAME", socket.gethostname())
    user = os.environ.get("LG_USERNAME") or getpass.getuser()
    return f"{host}/{user}"


def watch(coordinator: str, place: str) -> Callable[[], None]:
    """Start the watcher that releases the acquired ``place`` when this process ends (its
    stdin closes); returns what releases it now."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hil.lab.labgrid.place", coordinator, place, client_name()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a Ctrl-C of the session must not stop the watcher first
    )
    if watcher.stdout.readline().strip() != "watching":
        watcher.kill()
        raise NoBoardFree(f"labgrid place {place}: the watcher that releases it did not start")

    def release() -> None:
        watcher.stdin.close()
        watcher.wait(timeout=RELEASE_TIMEOUT_S)

    return release


def _release_when_stdin_closes(coordinator: str, place: str, holder: str) -> None:
    """The watcher: wait until the session's process closes our stdin (or dies), then
    release the place, only if ``holder`` still holds it."""
    print("watching", flush=True)
    sys.stdin.read()
    client = Coordinator(coordinator)
    try:
        client.release(place, holder)
    finally:
        client.close()


if __name__ == "__main__":
    _release_when_stdin_closes(*sys.argv[1:4])
