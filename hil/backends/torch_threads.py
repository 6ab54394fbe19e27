"""How many threads torch uses for sinabs' forward: chosen for the machine, and settable.

torch takes a thread per core by default. The reference's forward does little work per time
step, so extra threads mostly wait on each other, and on a machine whose cores are busy (other
xdist workers, other jobs) they wait for a core too: on 2 shared cores, 2 threads made the
reference 3 to 10 times slower than 1. The default is therefore half the cores this process
may run on, shared among pytest-xdist's workers, and at least 1. ``HIL_TORCH_THREADS=N`` sets
the count; ``HIL_TORCH_THREADS=0`` leaves torch's own choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TORCH_THREADS_ENV = "HIL_TORCH_THREADS"
#: More threads than this is a typo, not a choice: torch would try to start them all.
MAX_TORCH_THREADS = 1024
_chosen: int | None = None


def torch_threads(environ: Mapping[str, str] = os.environ) -> int:
    """The thread count the harness gives torch (0: torch's own choice)."""
    text = environ.get(TORCH_THREADS_ENV, "").strip()
    if text:
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{TORCH_THREADS_ENV}={text!r}: expected a whole number of threads")
        if len(text) > 6 or int(text) > MAX_TORCH_THREADS:
            raise ValueError(
                f"{TORCH_THREADS_ENV}={text}: at most {MAX_TORCH_THREADS} threads "
                f"(this machine has {_usable_cores()} usable cores)"
            )
        return int(text)
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return max(1, _usable_cores() // 2 // max(workers, 1))


def use_torch_threads() -> int:
    """Set torch's thread count (once per process, before the first forward); returns it."""
    global _chosen
    if _chosen is None:
        import torch

        _chosen = torch_threads()
        if _chosen:
            torch.set_num_threads(_chosen)
    return _chosen


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
