"""Recordings as cameras write them: Unix-epoch µs timestamps. They load, convert, replay and
slice like any other, counted from their first event, with the absolute time kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corpus import good_events

from hil import recordings
from hil.backends import open_device
from hil.cli import main

#: 2026-11-30 12:00:00 UTC in µs: what DV stamps events with.
EPOCH_US = 1_795_867_200_000_000
REPO = Path(__file__).resolve().parents[2]
MODEL = "hil.examples:scnn_34"


def epoch_events() -> np.ndarray:
    events = good_events(4000)
    events["t"] += EPOCH_US
    return events


def write_aedat4(path: Path, events: np.ndarray, size=(34, 34)) -> Path:
    """An AEDAT4 file as DV writes it, through iniVation's own dv-processing."""
    dv = pytest.importorskip("dv_processing")
    store = dv.EventStore()
    for e in events:
        store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig("t", size))
    writer.writeEvents(store)
    del writer
    return path


@pytest.fixture(params=["aedat4", "npy"])
def epoch_file(request, tmp_path) -> Path:
    events = epoch_events()
    if request.param == "npy":
        np.save(tmp_path / "camera.npy", events)
        return tmp_path / "camera.npy"
    return write_aedat4(tmp_path / "camera.aedat4", events)


def test_loads_from_its_first_event(epoch_file):
    events = epoch_events()
    recording = recordings.load(epoch_file, sensor_size=(34, 34, 2))
    assert recording.events["t"][0] == 0
    assert recording.metadata["t_origin_us"] == events["t"][0]
    np.testing.assert_array_equal(recording.events["t"] + events["t"][0], events["t"])
    assert recording.duration_us == events["t"][-1] - events["t"][0]
    expected = (events["t"] - events["t"][0] >= 10_000) & (events["t"] - events["t"][0] < 20_000)
    assert len(recording.window(10_000, 20_000)) == expected.sum() > 0


def test_converts_and_keeps_the_origin(epoch_file, tmp_path, capsys):
    target = tmp_path / "native.h5"
    code = main(["recordings", "convert", str(epoch_file), str(target), "--sensor-size", "34x34x2"])
    assert code == 0, capsys.readouterr().err
    assert target.stat().st_size < 200_000
    native = recordings.load(target)
    assert native.metadata["t_origin_us"] == epoch_events()["t"][0]
    np.testing.assert_array_equal(
        native.events, recordings.load(epoch_file, sensor_size=(34, 34, 2)).events
    )
    assert main(["recordings", "info", str(epoch_file)]) == 0
    assert "t_origin_us" in capsys.readouterr().out


def test_replays_and_saves_its_outputs(epoch_file, tmp_path, capsys):
    out = tmp_path / "out.h5"
    code = main(
        [
            "replay",
            "--model",
            MODEL,
            "--recording",
            str(epoch_file),
            "--input-shape",
            "2,34,34",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "events in" in captured.out
    assert len(recordings.load(out)) > 0


def test_replays_through_the_api_like_the_same_events_from_zero(epoch_file):
    from hil.examples import INPUT_SHAPE_34, scnn_34

    recording = recordings.load(epoch_file, sensor_size=(34, 34, 2))
    from_zero = recordings.Recording.from_events(recording.events, (34, 34, 2))
    with open_device("sim") as device:
        deployment = device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all")
        run = deployment.replay(recording)
        again = deployment.replay(from_zero)
    assert run.wall_s < 30
    np.testing.assert_array_equal(run.outputs, again.outputs)
    assert len(run.outputs) > 0
