"""The pytest plugin (entry point ``hil``)."""
