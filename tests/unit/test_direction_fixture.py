"""The direction fixture: its stimulus, its trained SNN on the emulated chip, its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures import direction
from fixtures.direction import (
    CLASSES,
    INPUT_SHAPE,
    direction_net,
    direction_recording,
    direction_stream,
)
from fixtures.train_direction_net import TEST_SEEDS, TRAIN_SEEDS, train
from hil.analysis.agreement import agreement, exit_cores
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices

HELD_OUT_SEEDS = range(10_000, 10_004)  # four recordings per class, never seen in training
CLASS_WINDOW_US = 50_000  # the shortest window the network was trained to classify
MIN_CHIP_ACCURACY = 0.75
MIN_CLASS_AGREEMENT = 0.75


def frame(events: np.ndarray) -> np.ndarray:
    counts = np.zeros(INPUT_SHAPE, np.int64)
    np.add.at(counts, (events["p"], events["y"], events["x"]), 1)
    return counts


def test_stream_is_a_pure_function_of_its_seed():
    first = direction_stream("top_to_bottom", seed=7)
    assert len(first) > 0
    np.testing.assert_array_equal(first, direction_stream("top_to_bottom", seed=7))
    assert not np.array_equal(first, direction_stream("top_to_bottom", seed=8))


def test_the_four_directions_are_one_bar_turned():
    """Same seed, same bar: mirrored for the opposite direction, transposed for vertical, so
    the leading ON / trailing OFF edge turns with the motion."""
    width, height = INPUT_SHAPE[2], INPUT_SHAPE[1]
    streams = {direction: direction_stream(direction, seed=3) for direction in CLASSES}
    rightward, leftward = streams["left_to_right"], streams["right_to_left"]
    downward, upward = streams["top_to_bottom"], streams["bottom_to_top"]
    np.testing.assert_array_equal(leftward["x"], width - 1 - rightward["x"])
    np.testing.assert_array_equal(downward["y"], rightward["x"])
    np.testing.assert_array_equal(upward["y"], height - 1 - rightward["x"])
    for stream in streams.values():
        np.testing.assert_array_equal(stream["t"], rightward["t"])
        np.testing.assert_array_equal(stream["p"], rightward["p"])
    frames = [frame(stream) for stream in streams.values()]
    for i, a in enumerate(frames):
        for b in frames[i + 1 :]:
            assert not np.array_equal(a, b)


def test_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="left_to_right"):
        direction_stream("diagonal")


def test_recording_is_in_memory_and_named():
    recording = direction_recording("right_to_left", seed=5)
    assert recording.path is None
    assert recording.sensor_size == (INPUT_SHAPE[2], INPUT_SHAPE[1], INPUT_SHAPE[0])
    assert recording.name == "direction_right_to_left_5"
    np.testing.assert_array_equal(recording.events, direction_stream("right_to_left", seed=5))


def test_missing_weights_name_the_script(monkeypatch, tmp_path):
    monkeypatch.setattr(direction, "WEIGHTS_PATH", tmp_path / "direction_net.pt")
    with pytest.raises(FileNotFoundError, match=r"python fixtures/train_direction_net\.py"):
        direction_net()


@pytest.fixture(scope="module")
def chip_results():
    """Each held-out recording on the emulated chip: (true class, exit-layer spike counts per
    class on the chip and in sinabs, class agreement)."""
    assert not set(HELD_OUT_SEEDS) & (set(TRAIN_SEEDS) | set(TEST_SEEDS))
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    results = []
    with open_device("sim") as device:
        deployment = device.deploy(direction_net(), INPUT_SHAPE, monitor="all")
        (exit_core,) = exit_cores(deployment)
        for seed in HELD_OUT_SEEDS:
            for label, direction in enumerate(CLASSES):
                recording = direction_recording(direction, seed)
                run = deployment.replay(recording)
                reference = deployment.reference(recording)
                (exit_layer,) = (
                    layer
                    for layer in agreement(run, reference, class_window_us=CLASS_WINDOW_US)
                    if layer.core == exit_core
                )
                results.append(
                    (
                        label,
                        class_counts(run.outputs_of(exit_core)),
                        class_counts(reference.outputs_of(exit_core)),
                        exit_layer.class_agreement,
                    )
                )
    return results


def class_counts(spikes: np.ndarray) -> np.ndarray:
    return np.bincount(spikes["feature"], minlength=len(CLASSES))


def accuracy(labels: list[int], counts: list[np.ndarray]) -> float:
    """Argmax of the spike counts; a recording without output spikes counts as wrong."""
    right = [c.argmax() == label and c.any() for label, c in zip(labels, counts, strict=True)]
    return float(np.mean(right))


def test_chip_classifies_held_out_recordings(chip_results):
    labels, chip_counts, _, _ = zip(*chip_results, strict=True)
    assert accuracy(labels, chip_counts) >= MIN_CHIP_ACCURACY


def test_chip_agrees_with_sinabs_on_the_class(chip_results):
    labels, _, reference_counts, class_agreements = zip(*chip_results, strict=True)
    assert accuracy(labels, reference_counts) >= MIN_CHIP_ACCURACY
    assert np.mean(class_agreements) >= MIN_CLASS_AGREEMENT


def test_training_is_deterministic():
    """Two runs of a shortened training give bit-identical weights and accuracies."""
    shortened = {"epochs": 1, "train_seeds": range(64), "test_seeds": TEST_SEEDS[:16]}
    first, second = train(**shortened), train(**shortened)
    assert first.state_dict.keys() == second.state_dict.keys()
    for name, tensor in first.state_dict.items():
        assert torch.equal(tensor, second.state_dict[name]), name
    assert (first.ann_accuracy, first.snn_accuracy, first.first_layer_scale) == (
        second.ann_accuracy,
        second.snn_accuracy,
        second.first_layer_scale,
    )
