"""samna events as public Speck code builds them: empty, then field by field (the emulated
event classes refuse keyword construction, as samna documents none)."""

from typing import Any


def built(event_type: type, **fields: Any) -> Any:
    """An ``event_type`` event with ``fields`` assigned one by one."""
    event = event_type()
    for name, value in fields.items():
        setattr(event, name, value)
    return event
