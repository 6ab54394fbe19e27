import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from hil import recordings
from hil.events import EVENT_DTYPE
from hil.recordings import RecordingError, hdf5, synthetic

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def events() -> np.ndarray:
    """Events from t = 0, as every recording holds them once loaded."""
    return relative(synthetic.poisson(rate=20_000, duration_s=0.5, size=(32, 24), seed=7))


def relative(events: np.ndarray) -> np.ndarray:
    shifted = events.copy()
    shifted["t"] -= shifted["t"][0]
    return shifted


@pytest.fixture
def h5_file(tmp_path, events) -> Path:
    return recordings.save(
        tmp_path / "rec.h5", events, (32, 24, 2), source="unit test", device="none", take=3
    )


def test_hdf5_round_trip(h5_file, events):
    recording = recordings.load(h5_file)
    np.testing.assert_array_equal(recording.events, events)
    assert recording.sensor_size == (32, 24, 2)
    assert recording.metadata == {
        "source": "unit test",
        "device": "none",
        "take": 3,
        "t_origin_us": 0,
    }
    assert recording.duration_us == int(events["t"][-1] - events["t"][0])
    assert len(recording) == len(events)
    assert recording.sha256 == recordings.file_sha256(h5_file)


def test_hdf5_layout(h5_file, events):
    with h5py.File(h5_file) as f:
        for name in ("t", "x", "y", "p"):
            dset = f[f"events/{name}"]
            assert dset.dtype == EVENT_DTYPE[name]
            assert dset.chunks is not None
            assert dset.compression == "gzip"
        assert f.attrs["t_unit"] == "us"
        assert f.attrs["sensor_size"].tolist() == [32, 24, 2]
        index = f["ms_to_idx"][:]
    t = events["t"]
    for ms in (0, 1, 17, 250, len(index) - 1):
        first = index[ms]
        assert first == len(t) or t[first] >= ms * 1000
        assert first == 0 or t[first - 1] < ms * 1000
    assert index[-1] == len(t)


def test_saving_is_deterministic(tmp_path, events):
    a = recordings.save(tmp_path / "a.h5", events, (32, 24), description="same")
    b = recordings.save(tmp_path / "b.h5", events, (32, 24), description="same")
    assert recordings.file_sha256(a) == recordings.file_sha256(b)


def test_save_is_atomic_when_metadata_cannot_be_stored(tmp_path, events):
    target = tmp_path / "rec.h5"
    with pytest.raises(TypeError):
        recordings.save(target, events, (32, 24), bad={"nested": object()})
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_invalid_events_before_writing(tmp_path, events):
    with pytest.raises(ValueError, match="x"):
        recordings.save(tmp_path / "rec.h5", events, (8, 8))
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_reserved_metadata(tmp_path, events):
    with pytest.raises(ValueError, match="reserved"):
        recordings.save(tmp_path / "rec.h5", events, (32, 24), t_unit="ms")


@pytest.mark.parametrize(
    ("t0", "t1"),
    [(0, 1000), (1500, 2500), (123_456, 234_567), (499_000, 10**9), (-50, 20), (7000, 7000)],
)
def test_window_matches_a_filter(h5_file, events, t0, t1):
    window = recordings.load(h5_file).window(t0, t1)
    expected = events[(events["t"] >= t0) & (events["t"] < t1)]
    np.testing.assert_array_equal(window, expected)


def test_window_reads_only_the_slice(h5_file, events, monkeypatch):
    reads = []
    original = hdf5._read_hdf5_events

    def spy(path, sensor_size, lo, hi):
        reads.append(hi - lo)
        return original(path, sensor_size, lo, hi)

    monkeypatch.setattr(hdf5, "_read_hdf5_events", spy)
    window = recordings.load(h5_file).window(100_000, 110_000)
    assert reads == [pytest.approx(len(window), abs=200)]
    assert reads[0] < len(events) / 20


def test_window_without_index_still_works(h5_file, events):
    with h5py.File(h5_file, "a") as f:
        del f["ms_to_idx"]
    window = recordings.load(h5_file).window(1000, 5000)
    np.testing.assert_array_equal(window, events[(events["t"] >= 1000) & (events["t"] < 5000)])


def test_empty_recording_round_trip(tmp_path):
    path = recordings.save(tmp_path / "empty.h5", np.zeros(0, EVENT_DTYPE), (4, 4))
    recording = recordings.load(path)
    assert len(recording) == 0
    assert recording.duration_us == 0
    assert len(recording.window(0, 1000)) == 0


def test_in_memory_recording(events):
    recording = recordings.Recording.from_events(events, (32, 24), description="stimulus")
    assert recording.window(0, 1000).tolist() == events[events["t"] < 1000].tolist()
    assert recording.sensor_size == (32, 24, 2)
    assert len(recording.sha256) == 64


@pytest.mark.parametrize(
    "order", [("x", "y", "t", "p"), ("t", "x", "y", "p"), ("p", "t", "y", "x")]
)
def test_npy_any_field_order(tmp_path, events, order):
    widths = {"t": "<i8", "x": "<i2", "y": "<i2", "p": "?"}
    table = np.zeros(len(events), dtype=[(name, widths[name]) for name in order])
    for name in order:
        table[name] = events[name]
    np.save(tmp_path / "rec.npy", table)
    recording = recordings.load(tmp_path / "rec.npy", sensor_size=(32, 24, 2))
    np.testing.assert_array_equal(recording.events, events)
    assert recording.sensor_size == (32, 24, 2)


def test_npy_infers_a_missing_sensor_size(tmp_path, events):
    np.save(tmp_path / "rec.npy", events)
    recording = recordings.load(tmp_path / "rec.npy")
    assert recording.metadata["sensor_size_inferred"] is True
    assert recording.sensor_size == (
        events["x"].max() + 1,
        events["y"].max() + 1,
        events["p"].max() + 1,
    )


def test_aedat4_round_trip(tmp_path, events):
    shifted = events[:2000].copy()
    shifted["t"] += 1
    recording = recordings.load(_write_aedat4(tmp_path / "rec.aedat4", shifted))
    assert recording.sensor_size == (32, 24, 2)
    np.testing.assert_array_equal(recording.events, events[:2000])
    assert recording.metadata["t_origin_us"] == 1


def test_convert_to_native_keeps_the_events(tmp_path, events):
    np.save(tmp_path / "rec.npy", events)
    source = recordings.load(tmp_path / "rec.npy", sensor_size=(32, 24, 2))
    recordings.save(tmp_path / "rec.h5", source.events, source.sensor_size)
    np.testing.assert_array_equal(recordings.load(tmp_path / "rec.h5").events, events)


# --- bad input: every problem names the file --------------------------------------------


def _load_error(path, **kwargs) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        recording = recordings.load(path, **kwargs)
        recording.events  # noqa: B018 - lazily read files fail on first access
    assert str(path) in str(info.value)
    return info.value


def test_truncated_hdf5(h5_file):
    data = h5_file.read_bytes()
    h5_file.write_bytes(data[: len(data) // 2])
    assert "truncated" in _load_error(h5_file).problem


def test_corrupt_hdf5_chunk(h5_file):
    data = bytearray(h5_file.read_bytes())
    with h5py.File(h5_file) as f:
        offset = f["events/t"].id.get_chunk_info(0).byte_offset
    data[offset + 10 : offset + 400] = bytes(390)
    h5_file.write_bytes(bytes(data))
    _load_error(h5_file)


def test_hdf5_without_events(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(10)
    assert "no /events group" in _load_error(path).problem


def test_hdf5_missing_dataset(h5_file):
    with h5py.File(h5_file, "a") as f:
        del f["events/p"]
    assert "/events/p" in _load_error(h5_file).problem


def test_hdf5_datasets_of_different_length(h5_file):
    with h5py.File(h5_file, "a") as f:
        del f["events/y"]
        f["events/y"] = np.zeros(3, dtype="u2")
    assert "differ in length" in _load_error(h5_file).problem


def test_hdf5_without_sensor_size(h5_file):
    with h5py.File(h5_file, "a") as f:
        del f.attrs["sensor_size"]
    assert "sensor_size" in _load_error(h5_file).problem


def test_hdf5_unsorted_timestamps(h5_file):
    with h5py.File(h5_file, "a") as f:
        t = f["events/t"][:]
        t[100] = t[99] - 1
        f["events/t"][:] = t
    problem = _load_error(h5_file).problem
    assert "index 100" in problem
    assert "decrease" in problem


def test_hdf5_coordinates_outside_the_sensor(h5_file):
    with h5py.File(h5_file, "a") as f:
        f["events/x"][5] = 40
    assert "'x' at index 5 is 40" in _load_error(h5_file).problem


def test_hdf5_foreign_widths_are_converted(tmp_path, events):
    path = tmp_path / "wide.h5"
    with h5py.File(path, "w") as f:
        f.attrs["sensor_size"] = [32, 24, 2]
        for name, dtype in (("t", "u8"), ("x", "i4"), ("y", "i4"), ("p", "i1")):
            f[f"events/{name}"] = events[name].astype(dtype)
    np.testing.assert_array_equal(recordings.load(path).events, events)


def test_npy_missing_field(tmp_path):
    np.save(tmp_path / "rec.npy", np.zeros(3, dtype=[("t", "i8"), ("x", "i2"), ("p", "u1")]))
    assert "missing field 'y'" in _load_error(tmp_path / "rec.npy").problem


def test_npy_unsorted(tmp_path, events):
    events["t"][[3, 4]] = events["t"][[4, 3]] + [0, 1]
    np.save(tmp_path / "rec.npy", events[::-1])
    assert "decrease" in _load_error(tmp_path / "rec.npy").problem


def test_npy_outside_given_sensor(tmp_path, events):
    np.save(tmp_path / "rec.npy", events)
    assert "outside the sensor" in _load_error(tmp_path / "rec.npy", sensor_size=(8, 8)).problem


def test_npy_plain_array(tmp_path):
    np.save(tmp_path / "rec.npy", np.zeros((5, 4)))
    assert "not an event array" in _load_error(tmp_path / "rec.npy").problem


def test_truncated_npy(tmp_path, events):
    np.save(tmp_path / "rec.npy", events)
    data = (tmp_path / "rec.npy").read_bytes()
    (tmp_path / "rec.npy").write_bytes(data[: len(data) // 2])
    assert "truncated" in _load_error(tmp_path / "rec.npy").problem


def _write_aedat4(path: Path, events: np.ndarray, size=(32, 24)) -> Path:
    dv = pytest.importorskip("dv_processing")
    store = dv.EventStore()
    for e in events:
        store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig("t", size))
    writer.writeEvents(store)
    del writer
    return path


@pytest.mark.parametrize("keep", [0.01, 0.5])
def test_truncated_aedat4(tmp_path, events, keep):
    path = _write_aedat4(tmp_path / "rec.aedat4", events)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert "truncated AEDAT4" in _load_error(path).problem


def test_aedat4_outside_declared_sensor(tmp_path, events):
    path = _write_aedat4(tmp_path / "rec.aedat4", events[:100], size=(16, 16))
    assert "outside the sensor" in _load_error(path).problem


def test_empty_file(tmp_path):
    (tmp_path / "rec.h5").write_bytes(b"")
    assert "empty file" in _load_error(tmp_path / "rec.h5").problem


def test_non_recording_file(tmp_path):
    (tmp_path / "notes.h5").write_text("these are my lab notes\n")
    assert "not a recording" in _load_error(tmp_path / "notes.h5").problem


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in _load_error(tmp_path / "absent.h5").problem
    assert "directory" in _load_error(tmp_path).problem


# --- the manifest ------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path, events) -> Path:
    directory = tmp_path / "recordings"
    recordings.save(directory / "a.h5", events, (32, 24))
    recordings.add_to_manifest(directory / "a.h5", 'first "take"')
    return directory


def test_by_name(library, events):
    recording = recordings.by_name("a", library)
    np.testing.assert_array_equal(recording.events, events)
    entry = recordings.read_manifest(library)["a"]
    assert entry.description == 'first "take"'
    assert entry.events == len(events)


def test_by_name_uses_the_environment(library, monkeypatch):
    monkeypatch.setenv(recordings.RECORDINGS_ENV, str(library))
    assert len(recordings.by_name("a")) > 0


def test_by_name_refuses_a_changed_file(library, events):
    recordings.save(library / "a.h5", events[:-1], (32, 24))
    with pytest.raises(RecordingError, match="sha256 mismatch"):
        recordings.by_name("a", library)


def test_by_name_unknown_lists_known(library):
    with pytest.raises(RecordingError, match=r"no recording named 'b' \(known: a\)"):
        recordings.by_name("b", library)


def test_by_name_missing_file(library):
    (library / "a.h5").unlink()
    with pytest.raises(RecordingError, match="missing"):
        recordings.by_name("a", library)


def test_missing_and_malformed_manifest(tmp_path):
    with pytest.raises(RecordingError, match="no manifest"):
        recordings.read_manifest(tmp_path)
    (tmp_path / "manifest.toml").write_text("[recordings.a]\nfile = 3 = 4\n")
    with pytest.raises(RecordingError, match="not valid TOML"):
        recordings.read_manifest(tmp_path)
    (tmp_path / "manifest.toml").write_text('[recordings.a]\nfile = "a.h5"\n')
    with pytest.raises(RecordingError, match="entry 'a': missing sensor_size"):
        recordings.read_manifest(tmp_path)


def test_shipped_recordings_verify_and_stay_small(tmp_path):
    shipped = REPO / "recordings"
    entries = recordings.read_manifest(shipped)
    assert len(entries) >= 3
    for entry in entries.values():
        recordings.verify_entry(entry)
    assert sum(p.stat().st_size for p in shipped.iterdir()) < 2 * 1024 * 1024
    copy = shutil.copytree(shipped, tmp_path / "copy")
    with h5py.File(copy / "poisson_34.h5", "a") as f:
        f.attrs["description"] = "edited by hand"
    with pytest.raises(RecordingError, match="sha256 mismatch"):
        recordings.by_name("poisson_34", copy)
