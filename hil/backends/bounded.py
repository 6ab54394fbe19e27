"""samna calls that may block, bounded in time.

What an unplug does to a pending ``get_events_blocking`` or to ``close_device`` is not known
(facts.md §8): either may never return. Each such call runs in a daemon thread and is waited
for at most its bound; one that overruns raises ``DeviceError`` naming the device and the
call, and its thread is left to finish (or not) on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hil.backends.base import DeviceError

T = TypeVar("T")


def bounded(device: str, what: str, seconds: float, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, or ``DeviceError`` when it has not returned after ``seconds``."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call(*args))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name=f"samna {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeviceError(device, f"{what} did not return within {seconds:g} s")
    if failure:
        raise failure[0]
    return result[0]
