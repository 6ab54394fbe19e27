"""samna.specksim.nodes: the filter node types sinabs imports."""

from __future__ import annotations

from typing import Any


class SpecksimUnavailable:
    """A specksim node type that cannot be built without real samna."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise RuntimeError(
            f"samna.specksim.nodes.{type(self).__name__} is samna's C++ simulator; it needs "
            "the real samna (not installed here). Use --device sim or --device sinabs instead."
        )


class SpecksimConvolutionalFilterNode(SpecksimUnavailable):
    """specksim's convolution node."""


class SpecksimIAFFilterNode(SpecksimUnavailable):
    """specksim's integrate-and-fire node."""


class SpecksimSumPoolingFilterNode(SpecksimUnavailable):
    """specksim's sum pooling node."""
