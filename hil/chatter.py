"""What sinabs and torch say on every deploy that a lab need not read: captured by default.

sinabs warns "Layer N has pooling and is being monitored" whenever a monitored core pools
into the next; the harness knows (its analyses undo the pooling), so a run of a dozen deploys
would print it a dozen times. These filters go after the suite's own ``filterwarnings``, so
``-W`` on the command line (applied later) or ``--hil-chatter`` still shows them; ``speck-hil``
applies them at start (``quiet``).
"""

from __future__ import annotations

import builtins
import sys
import warnings

#: ``filterwarnings`` lines (pytest's syntax: action:message regex:category:module regex).
WARNING_FILTERS = (
    r"ignore:Layer \d+ has pooling and is being monitored:UserWarning",
    r"ignore:DVS layer has pooling and is being monitored:UserWarning",
)


def quiet() -> None:
    """The same filters for ``speck-hil``, which has no pytest to apply them; a ``-W`` or
    ``PYTHONWARNINGS`` the user gave wins."""
    if sys.warnoptions:
        return
    for line in WARNING_FILTERS:
        action, message, category = line.split(":")
        warnings.filterwarnings(action, message, getattr(builtins, category))
