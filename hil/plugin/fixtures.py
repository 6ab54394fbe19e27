"""The fixtures a lab's test asks for: ``speck``, ``recording``, ``measure``, and the rest."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hil import recordings
from hil.backends import Device
from hil.chip.profile import ChipProfile
from hil.measurement import failure_report
from hil.plugin.options import path_option
from hil.plugin.session import session_of
from hil.plugin.state import state_of
from hil.recordings import datasets, folders

if TYPE_CHECKING:
    from hil.analysis.checks import HilMeasure


@pytest.fixture(scope="session")
def recordings_dir(pytestconfig: pytest.Config) -> Path:
    """The recordings folder."""
    return path_option(pytestconfig, "recordings")


@pytest.fixture
def recording(recordings_dir: Path) -> Callable[..., recordings.Recording]:
    """Load a recording by manifest name (checked against its sha256) or by path.

    ``recording("moving_bar_128")`` or ``recording("data/run3.aedat4")``. A name is looked
    up in the recordings folder, then among the examples shipped with speck-hil.
    ``recording.dataset("digits", split="test")`` gives a labelled dataset
    (``hil.recordings.datasets``).
    """

    def load(name_or_path: str | os.PathLike, **kwargs) -> recordings.Recording:
        return folders.resolve(name_or_path, recordings_dir, **kwargs)

    def dataset(name: str, split: str | None = None) -> datasets.Dataset:
        """The labelled samples of dataset ``name`` (a folder with its own manifest)."""
        return datasets.dataset(name, split, recordings_dir)

    load.dataset = dataset
    return load


@pytest.fixture
def speck(request: pytest.FixtureRequest) -> Iterator[Device]:
    """The device ``--device`` names, opened for this test; a test that uses it is a device
    test. It holds no neuron state from earlier tests; see ``hil.lab.device_session``."""
    hil = session_of(request.config)
    yield hil.begin_device_test(request.node)
    hil.end_device_test(request.node)


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Iterator[HilMeasure]:
    """Record measurements with limits: ``measure("events_out", n, "events", lower=1)``.

    Every measurement is kept; the test fails at its end, listing each one out of limits.
    """
    # the analyses load torch and sinabs: only when asked; the sweep's check is the highest
    from hil.conversion.measure import ConversionMeasure

    state = state_of(request.node)
    state.measure = ConversionMeasure()
    yield state.measure
    late = state.measure.failures[state.judged :]
    if late:
        pytest.fail(failure_report(state.measure.measurements), pytrace=False)


@pytest.fixture
def device_profile(request: pytest.FixtureRequest) -> ChipProfile:
    """The device profile in use: the open device's, else the one ``--device`` and
    ``--profile`` name."""
    return session_of(request.config).profile
