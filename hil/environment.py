"""Environment variables the harness reads, checked before any work starts.

Each variable maps to the function that reads it, which raises a ``ValueError`` naming the
variable for a bad value. A variable is checked only when it is set, and its reader imported
only then, so checking costs nothing in the usual case. The CLI and the pytest plugin both call
``check_environment`` at start.
"""

from __future__ import annotations

import importlib
import os

#: variable -> "module:function" that reads it (and refuses a bad value).
READERS = {
    "HIL_SIM_DEVKITS": "hil.emulator.samna.device:configured_devkits",
    "HIL_TORCH_THREADS": "hil.backends.torch_threads:torch_threads",
    "HIL_SIM_PROFILE": "hil.emulator.truth:check_sim_profile",
    "HIL_SIM_ARRAYS": "hil.backends:sim_arrays",
    "HIL_RECORDINGS": "hil.recordings.folders:check_environment_folder",
    "HIL_HISTORY_LOCK_WAIT": "hil.history.integrity:lock_wait",
}


def check_environment() -> None:
    """Read every set variable through its reader; the first bad one raises ValueError."""
    for name, reader in READERS.items():
        if os.environ.get(name, "").strip():
            module, _, function = reader.partition(":")
            getattr(importlib.import_module(module), function)()
