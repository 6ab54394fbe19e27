"""Repository-level pytest configuration. The harness itself loads through its entry point.

pytester's in-process runs forget every module first imported inside them, and torch and
numba cannot be imported twice in one process (the second import crashes the interpreter).
The plugin imports them only when a test needs them, so the suite, whose tests run HIL
sessions in-process, imports them once here, before any pytester exists.
"""

import hil.checks  # noqa: F401  (torch, sinabs, matplotlib, numba)

pytest_plugins = ["pytester"]
