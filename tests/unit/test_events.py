import numpy as np
import pytest

from hil.events import EVENT_DTYPE, EventError, as_events, check_events

TONIC_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
DSEC_DTYPE = np.dtype([("p", "u1"), ("t", "<u4"), ("x", "<u2"), ("y", "<u2")])
SAMNA_STYLE_DTYPE = np.dtype(
    [("timestamp", "<u8"), ("x", "<u4"), ("y", "<u4"), ("polarity", "<u4")]
)


def _table(dtype, t=(0, 10, 10, 25), x=(1, 2, 3, 4), y=(5, 6, 7, 8), p=(0, 1, 1, 0)):
    columns = {"t": t, "x": x, "y": y, "p": p}
    aliases = {"timestamp": "t", "polarity": "p", "on": "p"}
    table = np.zeros(len(t), dtype=dtype)
    for name in dtype.names:
        table[name] = columns[aliases.get(name, name)]
    return table


@pytest.mark.parametrize("dtype", [TONIC_DTYPE, DSEC_DTYPE, SAMNA_STYLE_DTYPE, EVENT_DTYPE])
def test_as_events_converts_any_field_order_and_width(dtype):
    events = as_events(_table(dtype), sensor_size=(16, 16, 2))
    assert events.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(events["t"], [0, 10, 10, 25])
    np.testing.assert_array_equal(events["x"], [1, 2, 3, 4])
    np.testing.assert_array_equal(events["y"], [5, 6, 7, 8])
    np.testing.assert_array_equal(events["p"], [0, 1, 1, 0])


def test_whole_valued_floats_are_accepted():
    table = _table(np.dtype([("t", "f8"), ("x", "f4"), ("y", "f4"), ("p", "f4")]))
    assert as_events(table)["t"].tolist() == [0, 10, 10, 25]


def test_empty_array_is_valid():
    assert len(as_events(np.zeros(0, dtype=TONIC_DTYPE), (4, 4))) == 0


def _raises(table, sensor_size=None, source=None) -> EventError:
    with pytest.raises(EventError) as info:
        as_events(table, sensor_size, source=source)
    return info.value


def test_unsorted_timestamps_name_field_index_and_value():
    error = _raises(_table(TONIC_DTYPE, t=(0, 30, 20, 40)))
    assert (error.field, error.index, error.value) == ("t", 2, 20)
    assert "index 2" in str(error)
    assert isinstance(error, ValueError)


def test_coordinate_outside_sensor():
    error = _raises(_table(TONIC_DTYPE, x=(1, 2, 16, 4)), sensor_size=(16, 16))
    assert (error.field, error.index, error.value) == ("x", 2, 16)
    assert "0..15" in str(error)


def test_polarity_outside_sensor_channels():
    error = _raises(_table(DSEC_DTYPE, p=(0, 1, 2, 0)), sensor_size=(16, 16, 2))
    assert (error.field, error.index) == ("p", 2)


def test_negative_coordinate():
    error = _raises(_table(TONIC_DTYPE, y=(1, -3, 2, 2)))
    assert (error.field, error.index, error.value) == ("y", 1, -3)
    assert "negative" in str(error)


def test_negative_timestamp():
    error = _raises(_table(TONIC_DTYPE, t=(-5, 0, 1, 2)))
    assert (error.field, error.index) == ("t", 0)


def test_value_too_wide_for_the_canonical_field():
    error = _raises(_table(SAMNA_STYLE_DTYPE, x=(1, 70000, 2, 3)))
    assert (error.field, error.index, error.value) == ("x", 1, 70000)


def test_missing_field():
    table = np.zeros(3, dtype=[("t", "i8"), ("x", "i2"), ("p", "u1")])
    error = _raises(table)
    assert error.field == "y"
    assert "missing field 'y'" in str(error)


def test_nan_timestamp():
    table = _table(np.dtype([("t", "f8"), ("x", "i2"), ("y", "i2"), ("p", "u1")]))
    table["t"][3] = np.nan
    error = _raises(table)
    assert (error.field, error.index) == ("t", 3)


def test_fractional_coordinate():
    table = _table(np.dtype([("t", "i8"), ("x", "f4"), ("y", "i2"), ("p", "u1")]))
    table["x"][1] = 2.5
    assert _raises(table).field == "x"


def test_non_structured_and_non_integer_inputs():
    assert "structured" in str(_raises(np.zeros((3, 4))))
    assert "1-d" in str(_raises(np.zeros((2, 2), dtype=TONIC_DTYPE)))
    strings = np.zeros(2, dtype=[("t", "i8"), ("x", "U3"), ("y", "i2"), ("p", "u1")])
    assert _raises(strings).field == "x"


def test_source_prefixes_the_message():
    error = _raises(_table(TONIC_DTYPE, t=(3, 2, 4, 5)), source="run.npy")
    assert str(error).startswith("run.npy: ")


def test_check_events_accepts_canonical_arrays():
    events = as_events(_table(TONIC_DTYPE))
    check_events(events, (16, 16, 2))
    with pytest.raises(EventError):
        check_events(events, (4, 4, 2))


def test_bad_sensor_size():
    with pytest.raises(ValueError, match="sensor_size"):
        as_events(_table(TONIC_DTYPE), sensor_size=(0, 16))
