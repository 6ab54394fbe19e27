"""Loading a 10-million-event recording costs about what reading its datasets with h5py does."""

import time

import h5py
import pytest

from hil import recordings
from hil.recordings import synthetic

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def n_events(bench_size) -> int:
    return bench_size(10_000_000, 500_000)


@pytest.fixture(scope="module")
def big_recording(tmp_path_factory, n_events):
    events = synthetic.poisson(n_events, 1.0, size=(128, 128), seed=0)
    return recordings.save(tmp_path_factory.mktemp("big") / "big.h5", events, (128, 128))


def _plain_h5py(path):
    with h5py.File(path, "r") as f:
        return {name: f["events"][name][:] for name in ("t", "x", "y", "p")}


@pytest.mark.benchmark(group="load-10M-events", timer=time.process_time)
def test_plain_h5py_read(benchmark, big_recording, speed_ratio, n_events):
    columns = benchmark.pedantic(_plain_h5py, args=(big_recording,), rounds=5, iterations=1)
    speed_ratio.baseline("load-10M-events", benchmark)
    assert len(columns["t"]) == pytest.approx(n_events, rel=0.01)


@pytest.mark.benchmark(group="load-10M-events", timer=time.process_time)
def test_recordings_load(benchmark, big_recording, speed_ratio, n_events):
    events = benchmark.pedantic(
        lambda: recordings.load(big_recording).events, rounds=5, iterations=1
    )
    assert len(events) == pytest.approx(n_events, rel=0.01)
    ratio = speed_ratio.ratio("load-10M-events", benchmark)
    if ratio is not None:
        print(f"\nrecordings.load / plain h5py = {ratio:.2f}")
        assert ratio < 1.5, f"loading is {ratio:.2f}x slower than plain h5py"
