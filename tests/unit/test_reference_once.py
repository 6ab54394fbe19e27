"""sinabs runs once per reference: SNNAnalyzer's SynOps figure comes from the reference's own
forward (cached on the deployment per recording), or is computed only when asked for."""

import pytest
from test_analysis_synops import two_layer_net

from hil.analysis.checks import HilMeasure
from hil.analysis.synops import synops_report
from hil.backends import open_device, simulate
from hil.backends.torch_threads import TORCH_THREADS_ENV, torch_threads
from hil.emulator.samna import device as emulated_devices
from hil.environment import check_environment
from hil.recordings import synthetic


@pytest.fixture
def forwards(monkeypatch) -> list[int]:
    """Counts sinabs forwards of a network (the reference, SNNAnalyzer's or any other)."""
    calls: list[int] = []
    forward = simulate.forward

    def counted(network, *args, **kwargs):
        calls.append(len(args[1]))
        return forward(network, *args, **kwargs)

    monkeypatch.setattr(simulate, "forward", counted)
    return calls


@pytest.fixture
def deployment():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        yield device.deploy(two_layer_net(), (2, 16, 16), monitor="all")


@pytest.fixture
def stimulus():
    return synthetic.poisson(50_000, 0.2, size=(16, 16), seed=4)


def test_a_hil_test_runs_sinabs_once(forwards, deployment, stimulus):
    """deploy, replay, reference, agreement, stall, SynOps: one sinabs forward."""
    run = deployment.replay(stimulus)
    reference = deployment.reference(stimulus)
    measure = HilMeasure()
    measure.agreement(run, reference, min_cosine=0.0)
    measure.no_stall(run)
    report = measure.synops_within_budget(run)
    assert forwards == [len(run.inputs)]
    assert all(core.sinabs_synops_per_s > 0 for core in report.cores.values())
    assert any(m.name.endswith("synops_sinabs") for m in measure.measurements)


def test_the_cached_figure_is_the_one_a_separate_forward_gives(forwards, deployment, stimulus):
    run = deployment.replay(stimulus)
    computed = synops_report(run, compute_sinabs=True)
    assert len(forwards) == 1
    deployment._reference_synops.clear()  # forget it: now the reference's forward counts
    deployment.reference(stimulus)
    cached = synops_report(run)
    assert len(forwards) == 2
    for core, entry in computed.cores.items():
        assert cached.cores[core].sinabs_synops_per_s == pytest.approx(entry.sinabs_synops_per_s)


def test_without_a_reference_the_figure_is_computed_only_on_request(forwards, deployment, stimulus):
    run = deployment.replay(stimulus)
    report = synops_report(run)
    assert forwards == []
    assert all(core.sinabs_synops_per_s is None for core in report.cores.values())
    other = synthetic.poisson(50_000, 0.2, size=(16, 16), seed=5)
    deployment.reference(other)  # another recording's figure is not this run's
    assert synops_report(run).cores[deployment.mapping.entry_core].sinabs_synops_per_s is None
    requested = synops_report(run, compute_sinabs=True)
    assert requested.cores[deployment.mapping.entry_core].sinabs_synops_per_s > 0
    synops_report(run, compute_sinabs=True)  # cached now
    assert len(forwards) == 2


@pytest.mark.parametrize(
    ("environ", "threads"),
    [
        ({TORCH_THREADS_ENV: "3"}, 3),
        ({TORCH_THREADS_ENV: "0"}, 0),
        ({"PYTEST_XDIST_WORKER_COUNT": "64"}, 1),
    ],
)
def test_torch_threads_are_settable(environ, threads):
    assert torch_threads(environ) == threads


def test_torch_threads_refuse_nonsense(monkeypatch):
    with pytest.raises(ValueError, match=TORCH_THREADS_ENV):
        torch_threads({TORCH_THREADS_ENV: "many"})
    monkeypatch.setenv(TORCH_THREADS_ENV, "-2")
    with pytest.raises(ValueError, match=TORCH_THREADS_ENV):
        check_environment()  # at the start of every session and command
