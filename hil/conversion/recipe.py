"""The seed's recipe, step by step: normalise the ANN's activations on event frames
(``sinabs.utils.normalize_weights``), convert it (``sinabs.from_torch.from_model``), scale the
first layer's weights by a factor.

The ANN must be a ``torch.nn.Sequential`` of Conv2d/Linear layers, each followed by a ReLU
(the last one may stand alone: it becomes the spiking output layer). Normalisation runs once;
each factor then gets its own converted copy, so factors never compound.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sinabs.from_torch import from_model
from sinabs.utils import normalize_weights
from torch import nn

from hil.recordings.datasets import Dataset

DEFAULT_PERCENTILE = 99.0
#: How many samples' frames the activations are normalised on (the first of the dataset).
NORMALISE_SAMPLES = 100


class Converter:
    """An ANN normalised once on ``frames`` (N, C, H, W), to convert at any factor."""

    def __init__(
        self, ann: nn.Module, frames: torch.Tensor, percentile: float = DEFAULT_PERCENTILE
    ):
        if not isinstance(ann, nn.Sequential):
            raise ValueError(
                f"the ANN must be a torch.nn.Sequential of Conv2d/Linear and ReLU layers, "
                f"not {type(ann).__name__}"
            )
        self.percentile = percentile
        self.ann = copy.deepcopy(ann).eval()
        outputs, params = normalised_layers(self.ann)
        normalize_weights(self.ann, frames, outputs, params, percentile=percentile)
        self.first_layer = params[0]

    def snn(self, factor: float) -> nn.Sequential:
        """The normalised ANN as an SNN (batch size 1, subtract reset, MultiSpike, membrane
        floor -1 as the chip needs), first layer's weights times ``factor``."""
        snn = from_model(
            copy.deepcopy(self.ann), batch_size=1, min_v_mem=-1.0, add_spiking_output=True
        ).spiking_model
        with torch.no_grad():
            dict(snn.named_children())[self.first_layer].weight *= factor
        return snn


def normalised_layers(ann: nn.Sequential) -> tuple[list[str], list[str]]:
    """(output layers, their parameter layers) as ``normalize_weights`` takes them: each
    ReLU after a Conv2d/Linear, and a last Conv2d/Linear without one normalised on itself."""
    names = list(dict(ann.named_children()))
    layers = list(ann.children())
    outputs, params, last_param = [], [], None
    for name, layer in zip(names, layers, strict=True):
        if isinstance(layer, nn.Conv2d | nn.Linear):
            if last_param is not None:
                raise ValueError(
                    f"ANN layer {last_param} ({type(layers[names.index(last_param)]).__name__}) "
                    "is not followed by a ReLU before the next weighted layer"
                )
            last_param = name
        elif isinstance(layer, nn.ReLU) and last_param is not None:
            outputs.append(name)
            params.append(last_param)
            last_param = None
    if last_param is not None:
        outputs.append(last_param)
        params.append(last_param)
    if not params:
        raise ValueError("the ANN has no Conv2d or Linear layer to convert")
    return outputs, params


def dataset_frames(
    dataset: Dataset, input_shape: tuple[int, int, int], count: int = NORMALISE_SAMPLES
) -> torch.Tensor:
    """The first ``count`` samples' events summed per pixel and polarity: (N, C, H, W)."""
    frames = []
    for sample in dataset.samples[:count]:
        events = sample.load().events
        frame = np.zeros(input_shape, np.float32)
        inside = (events["p"] < input_shape[0]) & (events["y"] < input_shape[1])
        inside &= events["x"] < input_shape[2]
        events = events[inside]
        np.add.at(frame, (events["p"].astype(np.int64), events["y"], events["x"]), 1.0)
        frames.append(frame)
    return torch.from_numpy(np.stack(frames))
