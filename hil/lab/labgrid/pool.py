"""A pool of labgrid places: ``--device labgrid:PLACE`` (one place) or
``--device labgrid:TAG=VALUE[,...]`` (every place carrying those tags).

Leasing a board acquires a free place of the pool through labgrid's coordinator, so sessions
on every host of a lab share the places; the lease releases it (and a watcher does, should
the session die). Only places whose devkit is plugged into this host can be driven (samna
drives a devkit over the host's USB): the others are passed over with a note, and a pool
with none on this host is refused with the hosts to run on. Waiting and quarantine are
``hil.lab.pool``'s, as for the boards of one host.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from hil.backends.spec import DeviceSpec
from hil.lab.labgrid.place import Coordinator, NotDrivable, coordinator_address, watch
from hil.lab.pool import Lease, Pool


class LabgridPool(Pool):
    """The labgrid places ``spec`` names, each holding one Speck devkit."""

    def __init__(self, spec: DeviceSpec, coordinator: str | None = None):
        self.spec = spec
        self.coordinator = coordinator or coordinator_address()
        tags = ",".join(f"{key}={value}" for key, value in spec.place_tags)
        what = f"labgrid place {spec.place}" if spec.place else f"labgrid places tagged {tags}"
        self.name = f"{what} (coordinator {self.coordinator})"
        self.boards: list[DeviceSpec] = []
        self.places: dict[str, DeviceSpec] = {}  # the places this host can drive: their devkit
        self.holders: dict[str, str] = {}  # the places someone holds: by whom
        self.ignored: dict[str, str] = {}  # the places this host cannot drive: why
        self.others: list[str] = []  # the coordinator's other places, for a message
        self._client: Coordinator | None = None

    def selects(self, name: str, tags: dict[str, str]) -> bool:
        if self.spec.place is not None:
            return name == self.spec.place
        return all(tags.get(key) == value for key, value in self.spec.place_tags)

    def lease(
        self,
        wait_s: float,
        exclude: Iterable[str] = (),
        on_wait: Callable[[str], None] | None = None,
    ) -> Lease:
        with self._connected():
            self._refresh()
            return super().lease(wait_s, exclude, on_wait)

    def try_lease(self, exclude: Iterable[str] = ()) -> Lease | None:
        skip = set(exclude)
        with self._connected() as client:
            self._refresh()
            for place, board in self.places.items():
                if board.board_id in skip or place in self.holders:
                    continue
                holder = client.acquire(place)
                if holder is not None:  # another session was quicker
                    self.holders[place] = holder
                    continue
                release = watch(self.coordinator, place)
                try:
                    board = client.devkit(place, client.places[place].acquired_resources)
                except NotDrivable as exc:
                    self.ignored[place] = str(exc)
                    release()
                    continue
                if board.board_id in skip:
                    release()
                    continue
                return Lease(board, 0.0, release, place=place)
        return None

    def busy(self, exclude: Iterable[str] = ()) -> str:
        exclude = set(exclude)
        held = [
            f"{place} ({board.board_id}) "
            + ("quarantined" if board.board_id in exclude else self.holders.get(place, "free"))
            for place, board in self.places.items()
        ]
        if len(held) == 1:
            return f"{self.name}: {held[0]}"
        return f"every place of {self.name} is taken ({'; '.join(held)})"

    def notes(self) -> list[str]:
        return [f"place {place} passed over: {why}" for place, why in self.ignored.items()]

    def _nothing_to_lease(self, exclude: set[str]) -> str:
        if self.places:
            return f"every place of {self.name} is quarantined ({', '.join(sorted(exclude))})"
        if self.ignored:
            why = "; ".join(f"{place}: {reason}" for place, reason in self.ignored.items())
            return f"{self.name}: none can be driven from this host ({why})"
        known = ", ".join(self.others) or "none"
        missing = "does not exist" if self.spec.place else "match no place"
        return f"{self.name} {missing} (places: {known})"

    def _refresh(self) -> None:
        """Which places the pool names, which of them this host can drive, who holds them."""
        client = self._client
        client.sync()
        self.places, self.holders, self.ignored, self.others = {}, {}, {}, []
        for name, place in sorted(client.places.items()):
            if not self.selects(name, place.tags):
                tags = ",".join(f"{k}={v}" for k, v in sorted(place.tags.items()))
                self.others.append(f"{name} [{tags}]" if tags else name)
                continue
            try:
                self.places[name] = client.devkit(name)
            except NotDrivable as exc:
                self.ignored[name] = str(exc)
                continue
            if place.acquired:
                self.holders[name] = f"acquired by {place.acquired}"
            elif place.reservation:
                self.holders[name] = f"reserved ({place.reservation})"
        self.boards = list(self.places.values())

    @contextlib.contextmanager
    def _connected(self) -> Iterator[Coordinator]:
        """One coordinator session for a lease and its waiting, closed afterwards."""
        if self._client is not None:
            yield self._client
            return
        self._client = Coordinator(self.coordinator)
        try:
            yield self._client
        finally:
            client, self._client = self._client, None
            client.close()
