import dataclasses

import pytest
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset
from torch import nn

from hil.analysis.lints import (
    ERROR,
    WARNING,
    check_network,
    format_core_table,
    lint_deployment,
    lint_mapping,
)
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices


def net(channels: int = 8, first_weight: float = 0.5, reset_fn=None) -> nn.Sequential:
    torch.manual_seed(0)
    spiking = {"reset_fn": reset_fn} if reset_fn is not None else {}
    layers = nn.Sequential(
        nn.Conv2d(2, channels, 3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, **spiking),
        nn.Conv2d(channels, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, **spiking),
    )
    with torch.no_grad():
        layers[0].weight.uniform_(0.0, first_weight)
        layers[2].weight.uniform_(0.0, 0.3)
    return layers


@pytest.fixture(scope="module")
def sim():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        yield device
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


def rules(report) -> set[tuple[str, str, int | None]]:
    return {(f.severity, f.rule, f.layer) for f in report.findings}


def test_a_clean_network_has_no_findings(sim):
    report = lint_deployment(sim.deploy(net(), (2, 16, 16)))
    assert report.findings == []
    assert [usage.status for usage in report.cores] == ["ok", "ok"]
    assert check_network(net(), (2, 16, 16)).findings == []
    table = format_core_table(report)
    assert table.splitlines()[0].split()[:3] == ["core", "layer", "kernel"]
    assert "256/16384" in table  # layer 0: 2 · 2^(4+3) kernel words of 16 Ki on cores 0..2


def test_a_layer_no_core_can_hold_is_an_error_naming_layer_and_limit():
    report = check_network(net(channels=512), (2, 128, 128))
    (finding,) = report.findings
    assert (finding.severity, finding.rule, finding.layer) == (ERROR, "mapping", 0)
    assert "neuron memory 2097152 words > 65536 available" in finding.message
    assert "neuron memory" in finding.limit
    assert report.cores == []
    assert check_network(net(channels=8), (2, 128, 128)).errors == []


def test_memory_beyond_the_core_it_sits_on_is_an_error(sim):
    deployment = sim.deploy(net(), (2, 16, 16))
    core = deployment.mapping.core_of(1)
    small = list(sim.profile.memory.kernel_words)
    small[core] = 256
    profile = dataclasses.replace(
        sim.profile, memory=dataclasses.replace(sim.profile.memory, kernel_words=tuple(small))
    )
    report = lint_mapping(deployment.mapping, profile)
    (finding,) = report.findings
    assert (finding.rule, finding.layer, finding.core) == ("kernel-memory", 1, core)
    assert (finding.value, finding.limit) == (512, 256)
    assert f"layer 1 on core {core}: kernel memory 512 words > 256 available" in finding.message
    assert report.cores[1].status == ERROR
    assert lint_mapping(deployment.mapping, sim.profile).findings == []


def test_a_weight_at_or_above_threshold_is_a_warning(sim):
    report = lint_deployment(sim.deploy(net(first_weight=3.0), (2, 16, 16)))
    (finding,) = report.findings
    assert (finding.severity, finding.rule, finding.layer) == (WARNING, "weight-threshold", 0)
    assert finding.value >= 2 * finding.limit
    assert "fires on every later input" in finding.message
    assert report.cores[0].max_weight_ratio >= 2
    assert report.cores[0].status == WARNING

    just_over = lint_deployment(sim.deploy(net(first_weight=1.5), (2, 16, 16)))
    (finding,) = just_over.findings
    assert finding.limit <= finding.value < 2 * finding.limit
    assert "one input spike alone fires the neuron" in finding.message
    assert lint_deployment(sim.deploy(net(first_weight=0.9), (2, 16, 16))).findings == []


def test_threshold_low_zero_is_an_error(sim):
    deployment = sim.deploy(net(), (2, 16, 16))
    assert lint_deployment(deployment).findings == []
    core = deployment.mapping.core_of(1)
    deployment.mapping.config.cnn_layers[core].threshold_low = 0
    report = lint_deployment(deployment)
    assert rules(report) == {(ERROR, "threshold-low", 1)}
    assert report.findings[0].core == core
    assert "known chip bug" in format_core_table(report)


def test_a_reset_mode_contradicting_the_network_is_an_error(sim):
    reset_trained = net(reset_fn=MembraneReset())
    contradicting = lint_deployment(sim.deploy(reset_trained, (2, 16, 16), reset="subtract"))
    assert rules(contradicting) == {(ERROR, "reset-mode", 0), (ERROR, "reset-mode", 1)}
    assert "MembraneReset, which needs reset 'zero'" in contradicting.findings[0].message
    matching = lint_deployment(sim.deploy(reset_trained, (2, 16, 16), reset="zero"))
    assert matching.findings == []
    assert rules(check_network(net(), (2, 16, 16), reset="zero")) == {
        (ERROR, "reset-mode", 0),
        (ERROR, "reset-mode", 1),
    }
    assert check_network(reset_trained, (2, 16, 16)).findings == []


def test_a_shape_beyond_the_chip_limits_is_an_error(sim):
    deployment = sim.deploy(net(), (2, 16, 16))
    narrow = dataclasses.replace(
        sim.profile, limits=dataclasses.replace(sim.profile.limits, max_output_size=4)
    )
    report = lint_mapping(deployment.mapping, narrow)
    assert rules(report) == {(ERROR, "shape", 0), (ERROR, "shape", 1)}
    assert "output map 7x7 (HxW) exceeds 4 per side" in report.findings[0].message
    assert lint_mapping(deployment.mapping, sim.profile).errors == []
