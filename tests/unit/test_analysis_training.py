import dataclasses

import pytest
import sinabs
import sinabs.layers as sl
import torch
from torch import nn

from hil.analysis.training import forward_with_synops, synops_limits, synops_loss
from hil.chip.profile import load_profile

BATCH, STEPS = 2, 20


def model() -> nn.Sequential:
    torch.manual_seed(0)
    layers = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=BATCH, min_v_mem=-1.0),
        nn.Conv2d(8, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=BATCH, min_v_mem=-1.0),
    )
    with torch.no_grad():
        layers[0].weight.uniform_(0.0, 0.5)
    return layers


@pytest.fixture
def spikes() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return (torch.rand(BATCH * STEPS, 2, 16, 16, generator=generator) < 0.1).float()


def value(tensor: torch.Tensor) -> float:
    return tensor.detach().item()


def test_synops_per_second_use_the_time_step(spikes):
    _, per_ms = forward_with_synops(model(), spikes, dt_us=1000)
    _, per_10ms = forward_with_synops(model(), spikes, dt_us=10_000)
    # First layer, k3 padding 1 on 16 pixels: border pixels reach 2 outputs per axis, others 3.
    fan = torch.full((16,), 3.0)
    fan[[0, -1]] = 2.0
    synops_per_step = (spikes * fan[:, None] * fan[None, :] * 8).sum() / (BATCH * STEPS)
    assert value(per_ms[0]) == pytest.approx(value(synops_per_step) / 1e-3)
    assert value(per_ms[1]) == pytest.approx(10 * value(per_10ms[1]))
    assert value(per_ms[1]) > 0


def test_loss_is_zero_under_budget(spikes):
    net = model()
    _, synops = forward_with_synops(net, spikes)
    generous = [2 * value(rate) for rate in synops]
    loss = synops_loss(synops, generous)
    assert value(loss) == 0.0
    loss.backward()
    assert (net[0].weight.grad == 0).all()
    tight = [value(synops[0]) * 2, value(synops[1]) / 2]
    assert value(synops_loss(synops, tight)) == pytest.approx(1.0)


def test_one_step_on_an_over_budget_layer_lowers_the_loss_and_the_weights(spikes):
    net = model()
    _, synops = forward_with_synops(net, spikes)
    limits = [1e12, value(synops[1]) / 2]  # the second layer is twice over its budget
    loss = synops_loss(synops, limits)
    loss.backward()
    feeding = net[0].weight
    assert value(feeding.grad.sum()) > 0  # descent lowers the weights making its input spikes
    step = 0.05 * feeding.grad / feeding.grad.abs().max()
    original = feeding.detach().clone()

    def loss_after(weights: torch.Tensor) -> float:
        with torch.no_grad():
            feeding.copy_(weights)
        sinabs.reset_states(net)
        return value(synops_loss(forward_with_synops(net, spikes)[1], limits))

    assert loss_after(original - step) < value(loss)
    assert value((original - step).sum()) < value(original.sum())
    assert not loss_after(original + step) < value(loss)  # the other way is no descent


def test_limits_come_from_the_cores_the_layers_sit_on():
    profile = dataclasses.replace(
        load_profile("speck2f"), synops_per_s=tuple(float(c) * 1e6 for c in range(1, 10))
    )
    assert synops_limits(profile, {1: 3, 0: 7}) == [8e6, 4e6]
    with pytest.raises(ValueError, match="2 layers but 1 limits"):
        synops_loss([torch.tensor(1.0), torch.tensor(2.0)], [1.0])
