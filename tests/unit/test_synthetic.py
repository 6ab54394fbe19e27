import numpy as np
import pytest

from hil.events import EVENT_DTYPE, check_events
from hil.recordings import synthetic


@pytest.mark.parametrize("kind", sorted(synthetic.GENERATORS))
def test_generators_are_seeded_sorted_and_inside_the_sensor(kind):
    generate = synthetic.GENERATORS[kind]
    a = generate(50_000, 0.2, size=(40, 30), seed=5)
    b = generate(50_000, 0.2, size=(40, 30), seed=5)
    c = generate(50_000, 0.2, size=(40, 30), seed=6)
    assert a.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    check_events(a, (40, 30, 2))
    assert a["t"].min() >= 0
    assert a["t"].max() < 200_000


def test_poisson_rate():
    events = synthetic.poisson(100_000, 1.0, seed=1)
    assert len(events) == pytest.approx(100_000, rel=0.02)
    per_pixel = np.bincount(events["x"].astype(int) * 128 + events["y"], minlength=128 * 128)
    assert per_pixel.mean() == pytest.approx(100_000 / 128**2, rel=0.02)


def test_moving_bar_follows_the_edge():
    events = synthetic.moving_bar(200_000, 1.0, size=(128, 128), seed=1, bar_width=4)
    expected_edge = events["t"] / 1e6 * (128 + 4)
    lag = expected_edge - events["x"]
    assert lag.min() >= 0
    assert lag.max() <= 4 + 1
    on = events["p"] == 1
    assert lag[on].mean() < lag[~on].mean()


def test_burst_is_dense_in_the_middle_only():
    events = synthetic.burst(5_000, 1.0, seed=1, burst_rate=200_000, burst_duration_s=0.1)
    per_100ms = np.bincount(events["t"] // 100_000, minlength=10)
    quiet = np.delete(per_100ms, [4, 5])
    assert quiet.max() < 1_000
    burst_events = per_100ms[4] + per_100ms[5] - 2 * quiet.mean()
    assert burst_events == pytest.approx(20_000, rel=0.05)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: synthetic.poisson(-1, 1.0), "rate"),
        (lambda: synthetic.poisson(1000, 0), "duration"),
        (lambda: synthetic.burst(1000, 0.1, burst_duration_s=0.5), "longer"),
    ],
)
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()
