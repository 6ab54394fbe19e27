"""The devkits the harness knows, by sinabs' device id."""

#: sinabs device id -> (samna ``device_type_name``, chip: the samna submodule and profile name)
DEVICE_TYPES = {
    "speck2fmodule": ("Speck2fModuleDevKit", "speck2f"),
    "speck2fdevkit": ("Speck2fDevKit", "speck2f"),
    "speck2edevkit": ("Speck2eDevKit", "speck2e"),
    "speck2e": ("Speck2eTestBoard", "speck2e"),
}

#: samna's names for the host-side event buffers of each chip.
SOURCE_BUFFERS = {
    "speck2f": "BasicSourceNode_speck2f_event_input_event",
    "speck2e": "BasicSourceNode_speck2e_event_speck2e_input_event",
}
SINK_BUFFERS = {
    "speck2f": "BasicSinkNode_speck2f_event_output_event",
    "speck2e": "BasicSinkNode_speck2e_event_output_event",
}
