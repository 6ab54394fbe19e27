"""The Speck chip configuration, with samna's field names and nesting.

Defaults are those of a chip after reset as far as sinabs and samna's docs imply: every core
unconfigured (no channels, no weights), destinations disabled, monitors off, subtract reset
(``return_to_zero`` False), decimator and congestion balancer off. ``threshold_low`` defaults
to -32768, the value sinabs writes for "no lower bound", because 0 triggers a chip bug. The DVS
layer passes sensor events with both polarities through an uncropped 128x128 window.

Array fields follow samna's axis order: ``weights[out][in][x][y]``,
``neurons_initial_value[feature][x][y]`` (x before y, unlike torch).
"""

from __future__ import annotations

from hil.emulator.samna.structs import (
    IntArrayField,
    Struct,
    bool_field,
    int_field,
    struct_array_field,
    struct_field,
)

N_CORES = 9
N_DESTINATIONS = 2
STATE_MIN = -(2**15)
SENSOR_MAX = 127


class Vec2(Struct):
    """An (x, y) pair of integers: sizes, strides, paddings, window corners."""

    x = int_field()
    y = int_field()


class FlipXY(Struct):
    """An (x, y) pair of flags."""

    x = bool_field()
    y = bool_field()


class CnnLayerShape(Struct):
    size = struct_field(Vec2)
    feature_count = int_field()


class CnnLayerDimensions(Struct):
    input_shape = struct_field(CnnLayerShape)
    output_shape = struct_field(CnnLayerShape)
    padding = struct_field(Vec2)
    stride = struct_field(Vec2, x=1, y=1)
    kernel_size = int_field(1)


class CnnLayerDestination(Struct):
    """Where a core (or the DVS layer) sends its output spikes: target core, sum pooling,
    channel offset."""

    layer = int_field()
    enable = bool_field()
    pooling = int_field(1)
    feature_shift = int_field()


class CnnLayerConfig(Struct):
    dimensions = struct_field(CnnLayerDimensions)
    weights = IntArrayField(4)
    biases = IntArrayField(1)
    leak_enable = bool_field()
    leak_internal_slow_clk_enable = bool_field()
    neurons_initial_value = IntArrayField(3)
    threshold_high = int_field()
    threshold_low = int_field(STATE_MIN)
    return_to_zero = bool_field()
    monitor_enable = bool_field()
    destinations = struct_array_field(CnnLayerDestination, N_DESTINATIONS)
    output_decimator_enable = bool_field()
    output_decimator_interval = int_field()
    input_congestion_balancer_enable = bool_field()


class DvsLayerConfig(Struct):
    merge = bool_field()
    mirror = struct_field(FlipXY)
    mirror_diagonal = bool_field()
    cut = struct_field(Vec2, x=SENSOR_MAX, y=SENSOR_MAX)
    origin = struct_field(Vec2)
    pooling = struct_field(Vec2, x=1, y=1)
    destinations = struct_array_field(CnnLayerDestination, N_DESTINATIONS)
    pass_sensor_events = bool_field(True)
    monitor_enable = bool_field()
    raw_monitor_enable = bool_field()
    on_channel = bool_field(True)
    off_channel = bool_field(True)


class ReadoutConfig(Struct):
    """The readout layer (layer 12), with the datasheet's fields. Nothing in sinabs writes it;
    the emulator models only what a host sees of it: with ``enable``, one ``ReadoutValue``
    in the sink every slow-clock cycle."""

    enable = bool_field()
    output_mode_sel = int_field()
    threshold = int_field()
    low_pass_filter_disable = bool_field()
    low_pass_filter32_not16 = bool_field()
    readout_configuration_sel = int_field()
    readout_pin_monitor_enable = bool_field()
    monitor_enable = bool_field()


class DvsFilterConfig(Struct):
    """The DVS event filter (datasheet 3.2.3.5); the emulator does not filter: a host
    replays recorded events, which never pass through the sensor's filter."""

    enable = bool_field()
    hot_pixel_filter_enable = bool_field()
    low_pass_mode_enable = bool_field()
    filter_size = struct_field(Vec2)
    threshold = int_field()


class FactoryConfig(Struct):
    """Factory settings the datasheet documents (the internal slow clock's divider)."""

    internal_slow_clk_divider = int_field(14)


class SpeckConfigurationBase(Struct):
    """The whole chip; each chip module subclasses it so that configurations of different
    chips are different types, as in samna."""

    DVSLayerConfig = DvsLayerConfig

    cnn_layers = struct_array_field(CnnLayerConfig, N_CORES)
    dvs_layer = struct_field(DvsLayerConfig)
    dvs_filter = struct_field(DvsFilterConfig)
    readout = struct_field(ReadoutConfig)
    factory_config = struct_field(FactoryConfig)
