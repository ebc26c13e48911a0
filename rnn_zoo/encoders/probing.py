"""Probing encoders: run the member on probe inputs and read its answers with an LSTM reader.

The member runs through the batched functional forward of :mod:`rnn_zoo.member.lstm`, so gradients
flow into the probes (and into the member's weights). Reading a member's function makes both
encoders invariant to hidden-unit permutations.

- ``probing-noninteractive``: the probes are learned, fixed input sequences.
- ``probing``: each probe step is decoded from the reader's current state, so later probes
  depend on what the member answered before.

Probe inputs are softmax distributions over symbols (``input_kind="tokens"``, formal
languages) or sigmoid vectors (``input_kind="real"``, MNIST tiles). Shape letters: s probe
sequences per member, r reader width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnn_zoo.encoders.encoder import Encoder, EncoderConfig, mlp
from rnn_zoo.member import lstm
from rnn_zoo.member.lstm import MemberSpec, Params


@dataclass(frozen=True)
class InputKind:
    """How raw probe values become member inputs, and the usual probe length for such zoos."""

    activation: Callable[[Tensor], Tensor]
    length: int
    min_input_size: int


INPUT_KINDS: dict[str, InputKind] = {
    "tokens": InputKind(lambda logits: logits.softmax(dim=-1), length=22, min_input_size=2),
    "real": InputKind(torch.sigmoid, length=50, min_input_size=1),
}


@dataclass(frozen=True)
class ProbingConfig(EncoderConfig):
    """Probe input kind, length (0: the kind's usual length) and count; reader and MLP sizes."""

    input_kind: str = "tokens"
    probe_length: int = 0
    probes: int = 1
    reader_width: int = 256
    reader_layers: int = 2
    widths: tuple[int, ...] = (768, 256)

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            known = ", ".join(INPUT_KINDS)
            raise ValueError(f"option input_kind must be one of {known}, got {self.input_kind!r}")
        if self.probe_length < 0:
            raise ValueError(f"option probe_length must be >= 0, got {self.probe_length!r}")
        object.__setattr__(self, "probe_length", self.probe_length or INPUT_KINDS[self.input_kind].length)
        super().__post_init__()


class _ProbingEncoder(Encoder):
    """Shared parts: the input kind, the check that the members can take it, the final MLP."""

    config_class = ProbingConfig
    invariant = True

    def __init__(self, spec: MemberSpec, config: ProbingConfig) -> None:
        super().__init__(spec, config)
        self.kind = INPUT_KINDS[config.input_kind]
        if spec.input_size < self.kind.min_input_size:
            raise ValueError(
                f"option input_kind={config.input_kind!r} needs members with input_size >= "
                f"{self.kind.min_input_size}, got {spec.input_size}"
            )
        self.to_embedding = mlp((config.reader_width, *config.widths, config.embedding_size))

    def summarize(self, top_hidden: Tensor, n: int) -> Tensor:
        """The reader's last top-layer state (n s, r) -> embeddings (n, e), averaged over probes."""
        return self.to_embedding(top_hidden.reshape(n, self.config.probes, -1).mean(dim=1))


class NonInteractiveProbingEncoder(_ProbingEncoder):
    """Learned fixed probe sequences -> member -> LSTM reader -> MLP."""

    name = "probing-noninteractive"
    description = "learned fixed probe inputs, member outputs read by an LSTM"

    def __init__(self, spec: MemberSpec, config: ProbingConfig) -> None:
        super().__init__(spec, config)
        # raw probe values before the input kind's activation, (s, t, i)
        self.probes = nn.Parameter(torch.randn(config.probes, config.probe_length, spec.input_size))
        self.reader = nn.LSTM(spec.output_size, config.reader_width, config.reader_layers, batch_first=True)

    def encode(self, params: Params) -> Tensor:
        n = params[self.spec.parameter_names[0]].shape[0]
        x = self.kind.activation(self.probes).expand(n, -1, -1, -1)  # (n, s, t, i)
        answers, _ = lstm.forward(params, self.spec, x)  # (n, s, t, o)
        _, (hidden, _) = self.reader(answers.flatten(0, 1))
        return self.summarize(hidden[-1], n)


class InteractiveProbingEncoder(_ProbingEncoder):
    """Each probe step decoded from the reader's state; member and reader advance step by step.

    The reader is a stack of LSTM cells (the same weights as an ``nn.LSTM``): stepping
    ``nn.LSTM`` one time step at a time is many times slower on CPU.
    """

    name = "probing"
    description = "interactive probing: each probe decoded from the reader's state"

    def __init__(self, spec: MemberSpec, config: ProbingConfig) -> None:
        super().__init__(spec, config)
        r = config.reader_width
        self.reader = nn.ModuleList(
            nn.LSTMCell(spec.output_size if layer == 0 else r, r) for layer in range(config.reader_layers)
        )
        # a learned start state per layer and probe sequence, so parallel sequences can differ
        self.start_hidden = nn.Parameter(0.1 * torch.randn(config.reader_layers, config.probes, r))
        self.start_cell = nn.Parameter(0.1 * torch.randn(config.reader_layers, config.probes, r))
        self.to_probe = nn.Linear(r, spec.input_size)

    def encode(self, params: Params) -> Tensor:
        n = params[self.spec.parameter_names[0]].shape[0]
        s = self.config.probes
        # per reader layer, (n s, r), member-major like the probes' reshape to (n, s, ...)
        hidden = list(self.start_hidden.repeat(1, n, 1).unbind(0))
        cell = list(self.start_cell.repeat(1, n, 1).unbind(0))
        member_state = None
        for _ in range(self.config.probe_length):
            x = self.kind.activation(self.to_probe(hidden[-1])).reshape(n, s, -1)  # (n, s, i)
            answer, member_state = lstm.step(params, self.spec, x, member_state)  # (n, s, o)
            layer_input = answer.reshape(n * s, -1)
            for layer, reader_cell in enumerate(self.reader):
                hidden[layer], cell[layer] = reader_cell(layer_input, (hidden[layer], cell[layer]))
                layer_input = hidden[layer]
        return self.summarize(hidden[-1], n)
