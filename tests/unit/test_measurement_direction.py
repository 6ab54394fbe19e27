"""What worse means, declared with a measurement: lower, higher, nearer zero, nearer a target;
kept through the run record and the history."""

from __future__ import annotations

import pytest
from history_fixtures import run_record

from hil.history.records import HistoryError, from_record
from hil.history.store import HistoryStore
from hil.measurement import Measure, Measurement


def test_a_target_goes_with_better_target_only():
    m = Measurement("gain", 1.02, better="target", target=1.0)
    assert m.as_dict()["target"] == 1.0 and Measurement.from_dict(m.as_dict()).target == 1.0
    assert "target" not in Measurement("drift", 0.4, better="zero").as_dict()
    with pytest.raises(ValueError, match="better='target' and a target go together"):
        Measurement("gain", 1.0, better="target")
    with pytest.raises(ValueError, match="go together"):
        Measurement("gain", 1.0, target=1.0)
    with pytest.raises(ValueError, match="better must be one of"):
        Measurement("gain", 1.0, better="nearer")
    measure = Measure()
    measure("gain", 0.97, better="target", target=1.0)
    assert measure.measurements[0].target == 1.0


def test_the_history_keeps_the_direction_and_the_target(tmp_path):
    record = run_record(
        [
            {"name": "gain", "value": 0.97, "better": "target", "target": 1.0},
            {"name": "drift", "value": 0.4, "better": "zero"},
        ]
    )
    with HistoryStore(str(tmp_path / "h.sqlite")) as store:
        store.append(from_record(record))
        history = store.load()
    by_name = {k.measurement: s for k, s in history.series.items()}
    assert (by_name["gain"].better, by_name["gain"].target) == ("target", 1.0)
    assert (by_name["drift"].better, by_name["drift"].target) == ("zero", None)
    bad = run_record([{"name": "gain", "value": 0.97, "better": "target"}])
    with pytest.raises(HistoryError, match="needs a numeric 'target'"):
        from_record(bad)
    bad = run_record([{"name": "gain", "value": 0.97, "better": "closer"}])
    with pytest.raises(HistoryError, match="better: expected one of lower, higher, zero, target"):
        from_record(bad)
