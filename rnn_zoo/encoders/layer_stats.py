"""Layer-wise statistics: per parameter tensor its mean, variance and five quantiles, then an MLP.

Invariant to hidden-unit permutations (a statistic of a set ignores its order), but blind to
everything a permutation does not change, such as which gate row goes with which.

The default is the authors' encoder: the raw statistics (variance with Bessel's correction)
into one ReLU hidden layer of 128. ``normalize=True`` puts a LayerNorm over the statistics
first (rnn-zoo's earlier design, with ``widths=(768, 768, 768), activation="gelu"``): the
statistics of different tensors differ in scale by orders of magnitude, which normalised
inputs may train on faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.encoders.encoder import Encoder, EncoderConfig, activation_option, mlp
from rnn_zoo.member.spec import MemberSpec, Params

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STATISTICS = 2 + len(QUANTILES)  # mean, variance, quantiles
NUMPY_SORTED = (torch.float32, torch.float64)


@dataclass(frozen=True)
class LayerStatsConfig(EncoderConfig):
    """MLP widths between the statistics and the embedding, its activation, and input LayerNorm."""

    widths: tuple[int, ...] = (128,)
    activation: str = activation_option("relu")
    normalize: bool = False


class LayerStatsEncoder(Encoder):
    """Mean, variance and quantiles (0, .25, .5, .75, 1) of every parameter tensor -> MLP."""

    name = "layer-stats"
    config_class = LayerStatsConfig
    invariant = True
    description = "per-tensor mean, variance and quantiles -> MLP"

    def __init__(self, spec: MemberSpec, config: LayerStatsConfig) -> None:
        super().__init__(spec, config)
        features = STATISTICS * len(spec.parameter_names)
        self.normalize = torch.nn.LayerNorm(features) if config.normalize else torch.nn.Identity()
        self.to_embedding = mlp((features, *config.widths, config.embedding_size), config.activation)

    def encode(self, params: Params) -> Tensor:
        stats = [tensor_statistics(params[name]) for name in self.spec.parameter_names]
        return self.to_embedding(self.normalize(torch.cat(stats, dim=-1)))


def tensor_statistics(tensor: Tensor) -> Tensor:
    """(n, ...) -> (n, 7): mean, variance and the quantiles of each member's tensor."""
    flat = tensor.flatten(1)
    mean = flat.mean(dim=-1, keepdim=True)
    # with Bessel's correction, as the authors'; two passes, which a CPU runs about ten times
    # faster than torch.var's one-pass (Welford) reduction
    variance = (flat - mean).square().sum(dim=-1) / (flat.shape[-1] - 1)
    moments = torch.cat([mean, variance.unsqueeze(-1)], dim=-1)
    return torch.cat([moments, quantiles(flat, QUANTILES)], dim=-1)


def quantiles(flat: Tensor, levels: tuple[float, ...]) -> Tensor:
    """(n, m) -> (n, k): ``torch.quantile(flat, levels, dim=-1).T`` (linear interpolation).

    On a CPU, members' weights (which need no gradient) are sorted by numpy: torch's CPU sort
    took 40 % of a small encoder's emulation step, numpy's is about five times faster.
    """
    if flat.device.type == "cpu" and flat.dtype in NUMPY_SORTED and not flat.requires_grad:
        ordered = torch.from_numpy(np.sort(flat.numpy(), axis=-1))
    else:
        ordered = flat.sort(dim=-1).values
    positions = torch.tensor(levels, dtype=torch.float64) * (flat.shape[-1] - 1)
    below = positions.floor().long()
    above = (below + 1).clamp_max(flat.shape[-1] - 1)
    weight = (positions - below).to(flat.dtype).to(flat.device)
    return torch.lerp(ordered[:, below.to(flat.device)], ordered[:, above.to(flat.device)], weight)
