"""Speck devkits shared between hosts through labgrid: a resource, and leasing a place.

A lab exports each devkit from the host it is plugged into as a ``SpeckDevkit`` resource
(matched by serial; ``python -m hil.labgrid_exporter``), groups it into a labgrid place, and
runs ``pytest --device labgrid:PLACE``: the session acquires the place through labgrid's
coordinator, opens the place's devkit, and releases the place when it ends. labgrid keeps
a place acquired until someone releases it, even when its holder died, so every lease starts
a small watcher process that releases the place as soon as the session's process is gone,
however it ended.

No pytest here: ``hil.pytest_pool`` leases the place like one board of a pool.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable

import attr
import grpc
from labgrid.factory import target_factory
from labgrid.remote.client import start_session
from labgrid.remote.generated import labgrid_coordinator_pb2
from labgrid.resource.common import Resource

from hil.backends import list_devices, parse_device_spec
from hil.backends.spec import DeviceSpec
from hil.pool import POLL_S, Lease, NoBoardFree

RESOURCE_CLASS = "SpeckDevkit"
COORDINATOR_ENV = "LG_COORDINATOR"
DEFAULT_COORDINATOR = "127.0.0.1:20408"
#: How long ending a lease may take (the watcher releases the place, then exits).
RELEASE_TIMEOUT_S = 30.0


@target_factory.reg_resource
@attr.s(eq=False)
class SpeckDevkit(Resource):
    """A Speck devkit plugged into this host, matched by its serial.

    ``device_type`` is sinabs' device id (``speck2fmodule``...); ``emulated`` names one of
    the emulated boards ``HIL_SIM_DEVKITS`` attaches. ``avail`` says whether it is attached.
    """

    serial = attr.ib(validator=attr.validators.instance_of(str))
    device_type = attr.ib(default="speck2fmodule", validator=attr.validators.instance_of(str))
    emulated = attr.ib(default=False, validator=attr.validators.instance_of(bool))

    @property
    def spec(self) -> DeviceSpec:
        return parse_device_spec(
            f"{'sim:' if self.emulated else ''}{self.device_type}@{self.serial}"
        )

    def poll(self) -> None:
        wanted = self.spec
        self.avail = any(
            (spec.kind, spec.device_type, spec.serial)
            == (wanted.kind, wanted.device_type, wanted.serial)
            for spec in (parse_device_spec(listed.spec) for listed in list_devices())
        )


def coordinator_address() -> str:
    return os.environ.get(COORDINATOR_ENV) or DEFAULT_COORDINATOR


class LabgridPlace:
    """One labgrid place holding one Speck devkit, leased like a pool of one board."""

    def __init__(self, place: str, coordinator: str | None = None):
        self.place = place
        self.coordinator = coordinator or coordinator_address()
        self.name = f"labgrid place {place} (coordinator {self.coordinator})"
        self.boards: list[DeviceSpec] = []

    @property
    def serials(self) -> list[str]:
        return [board.serial or "" for board in self.boards]

    def lease(
        self,
        wait_s: float,
        exclude: Iterable[str] = (),
        on_wait: Callable[[str], None] | None = None,
    ) -> Lease:
        """Acquire the place, waiting up to ``wait_s`` while someone else holds it."""
        session = self._connect()
        try:
            start = time.monotonic()
            holder = self._acquire(session)
            waited = holder is not None
            if holder is not None and on_wait is not None and wait_s > 0:
                on_wait(f"{self.name} is acquired by {holder}; waiting up to {wait_s:g} s")
            while holder is not None and time.monotonic() - start < wait_s:
                time.sleep(POLL_S)
                holder = self._acquire(session)
            if holder is not None:
                raise NoBoardFree(f"{self.name} is acquired by {holder}; waited {wait_s:g} s")
            release = _watch(self.coordinator, self.place, _client_name())
            try:
                board = self._devkit(session)
            except NoBoardFree:
                release()
                raise
            if board.serial in set(exclude):
                release()
                raise NoBoardFree(f"{self.name}: its devkit {board.serial} is quarantined")
            self.boards = [board]
            return Lease(board, round(time.monotonic() - start, 3) if waited else 0.0, release)
        finally:
            _run(session, session.stop())
            _run(session, session.close())

    def try_lease(self, exclude: Iterable[str] = ()) -> Lease | None:
        """A place is one board: no spare to move to."""
        return None

    def busy(self, exclude: Iterable[str] = ()) -> str:
        return f"{self.name} has no other devkit"

    def _connect(self):
        try:
            return start_session(self.coordinator)
        except Exception as exc:  # labgrid raises its own errors and grpc's
            raise NoBoardFree(f"labgrid coordinator {self.coordinator}: {exc}") from None

    def _acquire(self, session) -> str | None:
        """None when acquired; else who holds the place."""
        if self.place not in session.places:
            known = ", ".join(sorted(session.places)) or "none"
            raise NoBoardFree(f"{self.name} does not exist (places: {known})")
        request = labgrid_coordinator_pb2.AcquirePlaceRequest(placename=self.place)
        try:
            _run(session, session.stub.AcquirePlace(request))
        except grpc.aio.AioRpcError as exc:
            _run(session, session.sync_with_coordinator())
            holder = session.places[self.place].acquired
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or not holder:
                raise NoBoardFree(f"{self.name}: {exc.details()}") from None
            return holder
        _run(session, session.sync_with_coordinator())
        return None

    def _devkit(self, session) -> DeviceSpec:
        """The acquired place's devkit, which must be attached to this host."""
        place = session.places[self.place]
        devkits = []
        for exporter, group, cls, name in place.acquired_resources:
            if cls == RESOURCE_CLASS:
                devkits.append(((exporter, group, name), session.resources[exporter][group][name]))
        if len(devkits) != 1:
            raise NoBoardFree(
                f"{self.name} holds {len(devkits)} {RESOURCE_CLASS} resources; a place for "
                f"speck-hil holds exactly one (add a match: EXPORTER/GROUP/{RESOURCE_CLASS}/NAME)"
            )
        (exporter, group, name), entry = devkits[0]
        where = f"{exporter}/{group}/{RESOURCE_CLASS}/{name}"
        fields = {k: v for k, v in entry.args.items() if k in ("serial", "device_type", "emulated")}
        try:
            devkit = SpeckDevkit(None, name, **fields)
        except (TypeError, ValueError) as exc:
            raise NoBoardFree(f"{self.name}: {where} is not a Speck devkit: {exc}") from None
        if not entry.avail:
            raise NoBoardFree(f"{self.name}: {where} (serial {devkit.serial}) is not attached")
        host = entry.args.get("host")
        if not devkit.emulated and host and host != socket.gethostname():
            raise NoBoardFree(
                f"{self.name}: devkit {devkit.serial} is plugged into {host}, not this host "
                f"({socket.gethostname()}): run the session on {host}"
            )
        return devkit.spec


def _client_name() -> str:
    """How labgrid's coordinator names this client (it records it as the place's holder)."""
    host = os.environ.get("LG_HOSTNAME", socket.gethostname())
    user = os.environ.get("LG_USERNAME") or _user()
    return f"{host}/{user}"


def _user() -> str:
    import getpass

    return getpass.getuser()


def _run(session, coroutine):
    return session.loop.run_until_complete(coroutine)


def _watch(coordinator: str, place: str, holder: str) -> Callable[[], None]:
    """Start the watcher that releases ``place`` when this process ends (its stdin closes);
    returns what ends the lease now."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hil.labgrid_place", coordinator, place, holder],
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
    session = start_session(coordinator)
    request = labgrid_coordinator_pb2.ReleasePlaceRequest(placename=place, fromuser=holder)
    try:
        _run(session, session.stub.ReleasePlace(request))
    finally:
        _run(session, session.stop())
        _run(session, session.close())


if __name__ == "__main__":
    _release_when_stdin_closes(*sys.argv[1:4])
