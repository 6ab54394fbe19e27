"""Repository-level pytest configuration. The harness itself loads through its entry point.

pytester's in-process runs forget every module first imported inside them, and torch, numpy's
FFT and numba's compiler parts cannot be imported twice in one process (the second import
fails or crashes the interpreter). The plugin imports them only when a test needs them, so the
suite, whose tests run HIL sessions in-process, loads them once here, before any pytester
exists: numba loads most of its compiler the first time it compiles something.
"""

import numba
import sinabs  # noqa: F401  (pylab and numpy.fft, which inner sessions' conftests import)

import hil.analysis.checks  # noqa: F401  (torch, matplotlib)

numba.njit(lambda: 0)()

pytest_plugins = ["pytester"]
