"""Making many small objects at once: samna events, by the hundred thousand.

CPython's cyclic garbage collector runs every few hundred allocations, and each of its full
passes walks every live object (torch and sinabs hold many). Event objects hold only ints and
cannot form cycles, so pausing the collector while a batch is built costs nothing and saves
most of the time a replay spends on the host.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
