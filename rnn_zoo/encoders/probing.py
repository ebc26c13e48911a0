"""Probing encoders: run the member on probe inputs and read its answers with an LSTM reader.

The member runs through the batched functional forward of :mod:`rnn_zoo.member.functional`, so gradients
flow into the probes (and into the member's weights). Reading a member's function makes both
encoders invariant to hidden-unit permutations.

- ``probing-noninteractive``: the probes are decoded from learned, fixed probe encodings.
- ``probing``: each probe step is decoded from the reader's current output, so later probes
  depend on what the member answered before.

As in the authors' encoder: the reader is a stack of LSTM cells, each adding its input to its
output (residual); it reads a learned start step, then the member's answer (logits) to each
probe step through a Linear + Sigmoid, then a learned end step; its last output gives the
embedding through an MLP. A probe step is decoded by a Linear + ReLU to an encoding per probe
sequence, then an MLP. Probe inputs are softmax distributions over symbols
(``input_kind="tokens"``, formal languages) or sigmoid vectors (``input_kind="real"``, MNIST
tiles). Shape letters: s probe sequences per member (run in parallel; their answers are read
together), t probe steps, r reader width.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from rnn_zoo.encoders.encoder import Encoder, EncoderConfig, mlp
from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec, Params


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
    """Probe input kind, length (0: the kind's usual length) and count; reader, decoder, MLP sizes."""

    input_kind: str = "tokens"
    probe_length: int = 0
    probes: int = 1
    reader_width: int = 256
    reader_layers: int = 2
    encoding_width: int = 128  # each probe sequence's encoding of one step, before the decoder
    decoder_widths: tuple[int, ...] = (128,)
    widths: tuple[int, ...] = (128,)

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            known = ", ".join(INPUT_KINDS)
            raise ValueError(f"option input_kind must be one of {known}, got {self.input_kind!r}")
        if self.probe_length < 0:
            raise ValueError(f"option probe_length must be >= 0, got {self.probe_length!r}")
        object.__setattr__(self, "probe_length", self.probe_length or INPUT_KINDS[self.input_kind].length)
        super().__post_init__()


ReaderState = list[tuple[Tensor, Tensor]]


class ResidualReader(nn.Module):
    """Stacked LSTM cells of one width, each adding its input to its output; learned start/end steps.

    Cells rather than ``nn.LSTM``: stepping ``nn.LSTM`` one time step at a time is many times
    slower on CPU, and the interactive encoder must step.
    """

    def __init__(self, width: int, layers: int) -> None:
        super().__init__()
        self.cells = nn.ModuleList(nn.LSTMCell(width, width) for _ in range(layers))
        self.start = nn.Parameter(torch.zeros(width))
        self.end = nn.Parameter(torch.zeros(width))

    def begin(self, n: int) -> tuple[Tensor, ReaderState]:
        """Read the start step for n members from zero states: output (n, r) and the state."""
        like = self.start.new_zeros(n, self.start.shape[0])
        return self.step(self.start.expand(n, -1), [(like, like) for _ in self.cells])

    def step(self, x: Tensor, state: ReaderState) -> tuple[Tensor, ReaderState]:
        """One step: x (n, r) -> the top cell's output plus its input (n, r), and the new state."""
        new_state = []
        for cell, (h, c) in zip(self.cells, state, strict=True):
            h, c = cell(x, (h, c))
            new_state.append((h, c))
            x = h + x
        return x, new_state

    def finish(self, state: ReaderState) -> Tensor:
        """Read the end step: the reader's last output (n, r)."""
        return self.step(self.end.expand(state[0][0].shape[0], -1), state)[0]

    def read(self, steps: Tensor) -> Tensor:
        """Read a whole sequence (t, n, r) between the start and end steps: the last output (n, r).

        What :meth:`begin`, :meth:`step` per step and :meth:`finish` give, computed layer by
        layer (a cell's input sequence is the whole output sequence of the one below), each
        layer one fused LSTM call (oneDNN, cuDNN) over the sequence instead of a cell per step.
        """
        n = steps.shape[1]
        x = torch.cat([self.start.expand(1, n, -1), steps, self.end.expand(1, n, -1)])  # (t + 2, n, r)
        zeros = x.new_zeros(1, n, x.shape[-1])
        for cell in self.cells:
            weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
            with warnings.catch_warnings():  # cuDNN would rather have the four in one buffer
                warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous")
                # (input, state, weights, biases, layers, dropout, train, bidirectional, batch_first)
                hidden = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training, False, False)[0]
            x = hidden + x
        return x[-1]


class _ProbingEncoder(Encoder):
    """Shared parts: the input kind and its check, the reader, the probe decoder, the final MLP."""

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
        r, s = config.reader_width, config.probes
        self.reader = ResidualReader(r, config.reader_layers)
        self.read_answers = nn.Sequential(nn.Linear(spec.output_size * s, r), nn.Sigmoid())
        self.to_encodings = nn.Sequential(nn.Linear(r, config.encoding_width * s), nn.ReLU())
        self.decode_probe = mlp((config.encoding_width, *config.decoder_widths, spec.input_size), "relu")
        self.to_embedding = mlp((r, *config.widths, config.embedding_size), "relu")

    def probe_step(self, source: Tensor) -> Tensor:
        """(..., r) -> one probe step per probe sequence (..., s, i), after the kind's activation."""
        encodings = self.to_encodings(source).unflatten(-1, (self.config.probes, -1))
        return self.kind.activation(self.decode_probe(encodings))


class NonInteractiveProbingEncoder(_ProbingEncoder):
    """Probes decoded from learned fixed encodings -> member -> residual LSTM reader -> MLP."""

    name = "probing-noninteractive"
    description = "learned fixed probe inputs, member outputs read by an LSTM"

    def __init__(self, spec: MemberSpec, config: ProbingConfig) -> None:
        super().__init__(spec, config)
        self.probe_encodings = nn.Parameter(torch.randn(config.probe_length, config.reader_width))

    def encode(self, params: Params) -> Tensor:
        n = params[self.spec.parameter_names[0]].shape[0]
        probes = rearrange(self.probe_step(self.probe_encodings), "t s i -> s t i")
        answers, _ = functional.forward(params, self.spec, probes.expand(n, -1, -1, -1))  # (n, s, t, o)
        read = self.read_answers(rearrange(answers, "n s t o -> t n (s o)"))  # (t, n, r)
        return self.to_embedding(self.reader.read(read))


class InteractiveProbingEncoder(_ProbingEncoder):
    """Each probe step decoded from the reader's output; member and reader advance step by step."""

    name = "probing"
    description = "interactive probing: each probe decoded from the reader's state"

    def encode(self, params: Params) -> Tensor:
        n = params[self.spec.parameter_names[0]].shape[0]
        output, state = self.reader.begin(n)
        member_state = None
        for _ in range(self.config.probe_length):
            probe = self.probe_step(output)  # (n, s, i)
            answer, member_state = functional.step(params, self.spec, probe, member_state)  # (n, s, o)
            output, state = self.reader.step(self.read_answers(answer.flatten(1)), state)
        return self.to_embedding(self.reader.finish(state))
