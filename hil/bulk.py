"""Making many small objects at once: samna events, by the hundred thousand.

CPython's cyclic garbage collector runs every few hundred allocations, and each of its full
passes walks every live object (torch and sinabs hold many). Event objects hold only ints and
cannot form cycles, so pausing the collector while a batch is built, or across the whole host
side of a replay (``hil.backends.samna_backend``), costs nothing and saves most of the time a
replay would spend on the host. Pauses nest.
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
