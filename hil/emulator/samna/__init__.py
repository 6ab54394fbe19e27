"""A samna-compatible module over the emulator.

It mirrors the parts of samna's API that hold configurations and events, with samna's names,
so that sinabs can import ``sinabs.backend.dynapcnn`` and build chip configurations where real
samna is not installed. ``hil.emulator.install_as_samna`` places it in ``sys.modules`` as
``samna``; nothing here ever imports a real samna.
"""

from hil.emulator.samna import device, graph, speck2e, speck2f, specksim
from hil.emulator.samna.nodes import SinkBuffer, SourceBuffer


class BasicSourceNode_speck2f_event_input_event(SourceBuffer):
    """Host-side buffer of events into a Speck 2f."""


class BasicSinkNode_speck2f_event_output_event(SinkBuffer):
    """Host-side buffer of events out of a Speck 2f."""


class BasicSinkNode_unifirm_modules_events_measurement(SinkBuffer):
    """Host-side buffer of a devkit's power samples (``Measurement`` events)."""


class BasicSourceNode_speck2e_event_speck2e_input_event(SourceBuffer):
    """Host-side buffer of events into a Speck 2e."""


class BasicSinkNode_speck2e_event_output_event(SinkBuffer):
    """Host-side buffer of events out of a Speck 2e."""


__all__ = [
    "BasicSinkNode_speck2e_event_output_event",
    "BasicSinkNode_speck2f_event_output_event",
    "BasicSinkNode_unifirm_modules_events_measurement",
    "BasicSourceNode_speck2e_event_speck2e_input_event",
    "BasicSourceNode_speck2f_event_input_event",
    "device",
    "graph",
    "speck2e",
    "speck2f",
    "specksim",
]
