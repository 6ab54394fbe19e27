import pytest

from hil.backends.spec import DeviceSpec, DeviceSpecError, parse_device_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sim", DeviceSpec("emulated", "speck2fmodule")),
        ("sim:speck2fmodule", DeviceSpec("emulated", "speck2fmodule")),
        ("sim:speck2edevkit:1", DeviceSpec("emulated", "speck2edevkit", index=1)),
        ("speck2fmodule", DeviceSpec("real", "speck2fmodule")),
        ("speck2fmodule:1", DeviceSpec("real", "speck2fmodule", index=1)),
        ("speck2fmodule@AbC123", DeviceSpec("real", "speck2fmodule", serial="AbC123")),
        ("Speck2fDevKit", DeviceSpec("real", "speck2fdevkit")),
        ("speck2edevkit", DeviceSpec("real", "speck2edevkit")),
        ("sinabs", DeviceSpec("sinabs")),
        ("specksim", DeviceSpec("specksim")),
    ],
)
def test_known_specs(text, expected):
    spec = parse_device_spec(text)
    assert (spec.kind, spec.device_type, spec.index, spec.serial) == (
        expected.kind,
        expected.device_type,
        expected.index,
        expected.serial,
    )
    assert str(spec) == text


def test_profile_and_samna_names():
    spec = parse_device_spec("speck2edevkit")
    assert spec.samna_type_name == "Speck2eDevKit"
    assert spec.profile_name == "speck2e"


@pytest.mark.parametrize(
    "text", ["speck3", "sim:dynapcnn", "speck2fmodule:x", "speck2fmodule@", ""]
)
def test_unknown_specs_list_what_exists(text):
    with pytest.raises(DeviceSpecError) as info:
        parse_device_spec(text)
    message = str(info.value)
    assert repr(text) in message
    for known in (
        "sim",
        "speck2fmodule",
        "speck2edevkit",
        "sinabs",
        "specksim",
        "speck-hil devices",
    ):
        assert known in message
