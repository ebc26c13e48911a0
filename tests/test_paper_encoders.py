"""Every encoder has the authors' configuration by default; the probing readers their steps.

Each size reference is built here from plain torch modules with the settings of the authors'
released code (``training_configs.py`` and ``define_encoder`` in ``training_script.py``), not
from rnn-zoo's encoders, so a drift in either shows up as a different parameter count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from rnn_zoo import encoders
from rnn_zoo.encoders.layer_stats import quantiles, tensor_statistics
from rnn_zoo.encoders.param_transformer import SummaryTransformer, encoder_layer
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec, Params

PAPER_SPECS = [MemberSpec(6, 32, 2, 6), MemberSpec(16, 32, 2, 10)]  # formal languages, MNIST
EMBEDDING = 16


def make_member_shapes(spec: MemberSpec) -> list[tuple[int, ...]]:
    """Shapes of a member's tensors, read off torch's own LSTM and linear head."""
    lstm = nn.LSTM(spec.input_size, spec.hidden_size, spec.num_layers)
    head = nn.Linear(spec.hidden_size, spec.output_size)
    return [tuple(p.shape) for p in [*lstm.parameters(), *head.parameters()]]


def make_relu_mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of ``widths`` with ReLU between, as the authors' encoder MLPs."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def make_reference(name: str, spec: MemberSpec) -> nn.Module:
    """The authors' encoder ``name`` for ``spec``: only its parameter count is used."""
    shapes = make_member_shapes(spec)
    if name == "flat":  # encoder_core_hidden_size 128 x encoder_core_num_layers 3, then 16
        return make_relu_mlp([sum(int(np.prod(shape)) for shape in shapes), 128, 128, 128, EMBEDDING])
    if name == "layer-stats":  # encoder_mlp_hidden_size 128 x encoder_mlp_num_layers 1, then 16
        return make_relu_mlp([7 * len(shapes), 128, EMBEDDING])
    d, matrices = 128, [shape for shape in shapes if len(shape) == 2]
    layer = nn.TransformerEncoderLayer(d_model=d, nhead=2, dim_feedforward=4 * d, batch_first=True)
    rows = sum(shape[0] for shape in matrices)
    return nn.ModuleDict(
        {
            "transformer": nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False),
            "inputs": nn.ModuleList(nn.Linear(shape[1] + 1, d) for shape in matrices),
            "output": nn.Linear(d, EMBEDDING),
            "tokens": nn.ParameterList(
                [nn.Parameter(torch.zeros(rows + 1, d)), nn.Parameter(torch.zeros(d))]
            ),
        }
    )


def make_dws_reference(spec: MemberSpec) -> nn.Module:
    """The authors' ``NFLSTMParameterEncoder`` ("nf": 4 ``NPLinearLSTM`` layers of 48 channels).

    Their layer has, per weight tensor and its bias, one map of the weight itself, one of the
    means of all tensors, one of what the weight's column units hold broadcast along its rows
    (``row_in`` inputs of c_in channels), one of what its row units hold broadcast along its
    columns (``col_in``); the bias reads the ``col_in`` inputs and all means. Input channels:
    the 4 gates. Each layer adds embeddings of the member's input and output units. The mean of
    every tensor goes into a ReLU MLP 128 -> 16.
    """
    tensors, layers = len(make_member_shapes(spec)), spec.num_layers
    # (row_in, col_in) of layer l's input weight (l = layers: the head), then of its hh weight
    ih = [(1 + 5 * (layer > 0), 2 + 4 * (layer < layers)) for layer in range(layers + 1)]
    hh = [(5, 3 + (layer < layers - 1)) for layer in range(layers)]
    modules, c = nn.ModuleList(), 48
    for c_in in (4, c, c, c):
        for row_in, col_in in ih + hh:
            modules += [nn.Conv2d(c_in, c, 1), nn.Linear(tensors * c_in, c)]
            modules += [nn.Conv1d(row_in * c_in, c, 1), nn.Conv1d(col_in * c_in, c, 1)]
            modules += [nn.Conv1d(col_in * c_in, c, 1), nn.Linear(tensors * c_in, c)]
        units = (spec.input_size, spec.output_size, spec.output_size)
        modules.append(nn.ParameterList([nn.Parameter(torch.zeros(c_in, n)) for n in units]))
    modules.append(make_relu_mlp([tensors * c, 128, EMBEDDING]))
    return modules


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("spec", PAPER_SPECS, ids=["formal", "mnist"])
@pytest.mark.parametrize("name", ["flat", "layer-stats", "param-transformer", "dws"])
def test_default_size_is_the_authors(name: str, spec: MemberSpec) -> None:
    reference = make_dws_reference(spec) if name == "dws" else make_reference(name, spec)
    assert count(encoders.build(name, spec)) == pytest.approx(count(reference), rel=0.01)


def test_dws_reference_is_the_size_counted_by_hand() -> None:
    # per layer 170 maps of c_in x 48 (+ 30 bias vectors of 48) and c_in x (i + 2 o) embeddings
    by_hand = [
        170 * (4 + 3 * 48) * 48 + 4 * 30 * 48 + (4 + 3 * 48) * (i + 2 * o) for i, o in ((6, 6), (16, 10))
    ]
    head = 480 * 128 + 128 + 128 * 16 + 16
    assert [count(make_dws_reference(spec)) for spec in PAPER_SPECS] == [n + head for n in by_hand]


@pytest.mark.parametrize("spec", PAPER_SPECS, ids=["formal", "mnist"])
def test_dws_size_differs_from_the_authors_only_as_docs_fidelity_records(spec: MemberSpec) -> None:
    # 4 layers x 4 more biases of 48; one head channel, not 4: 28 first-layer maps and 2 embeddings
    gap = 4 * 4 * 48 - 28 * 3 * 48 - 2 * 3 * spec.output_size
    assert count(encoders.build("dws", spec)) - count(make_dws_reference(spec)) == gap


def test_dws_default_is_relu_with_the_mean_of_each_tensor_into_128() -> None:
    encoder = encoders.build("dws", PAPER_SPECS[0])
    assert (len(encoder.layers), len(encoder.layers[0].terms)) == (4, 170)
    assert isinstance(encoder.activation, nn.ReLU)
    assert [type(module) for module in encoder.to_embedding] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (encoder.to_embedding[0].in_features, encoder.to_embedding[0].out_features) == (10 * 48, 128)


def test_flat_default_is_about_the_sizes_the_authors_report() -> None:
    assert [round(count(encoders.build("flat", spec)) / 1e5) for spec in PAPER_SPECS] == [18, 20]


def test_param_transformer_default_layers_are_torchs_default_post_ln_with_dropout() -> None:
    encoder = encoders.build("param-transformer", PAPER_SPECS[0])
    reference = nn.TransformerEncoderLayer(d_model=128, nhead=2, batch_first=True)
    layer = encoder.transformer.layers[0]
    assert (layer.norm_first, layer.dropout.p, layer.activation) == (False, 0.1, reference.activation)
    assert not any(isinstance(module, nn.LayerNorm) for module in encoder.to_embedding)


def test_param_transformer_embedding_is_read_at_the_appended_summary_token(make_params) -> None:
    spec = MemberSpec(3, 4, 1, 2)
    encoder = encoders.build("param-transformer", spec, width=16, layers=1).eval()
    encoder.transformer = nn.Identity()  # what reaches the output is then the token itself
    with torch.no_grad():
        embeddings = encoder(make_params(spec, 2))
        last = encoder.to_embedding(encoder.summary + encoder.positions[-1])
    assert encoder.positions.shape[0] == 2 * 4 * 4 + 2 + 1  # ih and hh gate rows, head rows, summary
    torch.testing.assert_close(embeddings, last.expand(2, -1))


def test_layer_stats_uses_the_raw_statistics_with_unbiased_variance() -> None:
    tensor = torch.randn(3, 5, 7, dtype=torch.float64)
    flat = tensor.flatten(1).numpy()
    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    expected = np.column_stack([flat.mean(1), flat.var(1, ddof=1), np.quantile(flat, levels, axis=1).T])
    np.testing.assert_allclose(tensor_statistics(tensor).numpy(), expected)
    encoder = encoders.build("layer-stats", PAPER_SPECS[0])
    assert isinstance(encoder.normalize, nn.Identity)
    assert [type(module) for module in encoder.to_embedding] == [nn.Linear, nn.ReLU, nn.Linear]


def test_layer_stats_variance_of_float32_weights_is_numpys_in_float64() -> None:
    tensor = torch.randn(4, 128, 32, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.05
    expected = tensor.flatten(1).double().numpy().var(1, ddof=1)
    np.testing.assert_allclose(tensor_statistics(tensor)[:, 1].double().numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("flat", {"widths": (72, 384, 256), "activation": "gelu"}),
        ("layer-stats", {"widths": (768, 768, 768), "activation": "gelu", "normalize": True}),
        ("param-transformer", {"prenorm": True, "dropout": 0.0}),
        ("dws", {"sets": "axes", "widths": (1024, 512), "activation": "gelu"}),
    ],
)
def test_earlier_designs_stay_reachable_as_options(name: str, options: dict, make_params) -> None:
    spec = MemberSpec(6, 8, 2, 6)
    encoder = encoders.build(name, spec, **options).eval()
    assert encoder(make_params(spec, 2)).shape == (2, EMBEDDING)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dropout": 1.5}, r"option dropout must be a number in \[0, 1\), got 1.5"),
        ({"prenorm": "yes"}, "option prenorm must be true or false, got 'yes'"),
    ],
)
def test_bad_transformer_options_are_one_sentence(options: dict, message: str) -> None:
    with pytest.raises(ZooError, match=message):
        encoders.build("param-transformer", PAPER_SPECS[0], **options)


def test_an_unknown_activation_is_named() -> None:
    with pytest.raises(ZooError, match="option activation must be one of relu, gelu, got 'tanh'"):
        encoders.build("flat", PAPER_SPECS[0], activation="tanh")


# The probing readers: the authors' ``InteractiveEncoder`` as ``define_encoder`` builds it from
# ``training_configs.py`` ("interactive_1", "noninteractive_1"). Their module also creates
# parameters its forward pass never uses (reader start states ``h0``/``c0``; in the interactive
# encoder the static probe encodings, weighted by 0; one probe encoding past the last step);
# the references leave those out.

PROBING = ["probing-noninteractive", "probing"]


def make_probing_reference(name: str, spec: MemberSpec, probe_length: int) -> nn.Module:
    """The parameters the authors' reader uses: reader 2 x 256, encodings 128, MLPs of 128."""
    r = 256
    modules = nn.ModuleDict(
        {
            "cells": nn.ModuleList(nn.LSTMCell(r, r) for _ in range(2)),
            "answers": nn.Linear(spec.output_size, r),  # then a sigmoid
            "encoding": nn.Linear(r, 128),  # then a ReLU
            "decoder": make_relu_mlp([128, 128, spec.input_size]),
            "head": make_relu_mlp([r, 128, 16]),
        }
    )
    modules.start_and_end = nn.Parameter(torch.zeros(2, r))
    if name == "probing-noninteractive":
        modules.encodings = nn.Parameter(torch.zeros(probe_length, r))
    return modules


@pytest.mark.parametrize(
    ("spec", "kind", "length"), [(PAPER_SPECS[0], "tokens", 22), (PAPER_SPECS[1], "real", 50)]
)
@pytest.mark.parametrize("name", PROBING)
def test_probing_default_size_is_the_authors(name: str, spec: MemberSpec, kind: str, length: int) -> None:
    ours = count(encoders.build(name, spec, input_kind=kind))
    assert ours == pytest.approx(count(make_probing_reference(name, spec, length)), rel=0.01)


def make_member(params: Params, spec: MemberSpec, m: int) -> tuple[nn.LSTM, nn.Linear]:
    """Member m of ``params`` as torch's own LSTM and linear head."""
    lstm = nn.LSTM(spec.input_size, spec.hidden_size, spec.num_layers, batch_first=True)
    head = nn.Linear(spec.hidden_size, spec.output_size)
    for prefix, module in (("lstm.", lstm), ("head.", head)):
        module.load_state_dict({k[len(prefix) :]: v[m] for k, v in params.items() if k.startswith(prefix)})
    return lstm, head


def reference_embedding(encoder: encoders.Encoder, params: Params, m: int, probe: Callable) -> torch.Tensor:
    """The authors' control flow for member m: start step, one answer per probe step, end step."""
    cells = list(encoder.reader.cells)
    state = [(torch.zeros(1, cell.hidden_size), torch.zeros(1, cell.hidden_size)) for cell in cells]

    def read(x: torch.Tensor) -> torch.Tensor:
        for layer, cell in enumerate(cells):
            state[layer] = cell(x, state[layer])
            x = state[layer][0] + x  # residual
        return x

    lstm, head = make_member(params, encoder.spec, m)
    output, member_state = read(encoder.reader.start[None]), None
    for step in range(encoder.config.probe_length):
        probe_input = probe(output, step).softmax(dim=-1)  # (1, i): tokens
        hidden, member_state = lstm(probe_input[:, None], member_state)
        output = read(torch.sigmoid(encoder.read_answers[0](head(hidden[:, -1]))))
    return encoder.to_embedding(read(encoder.reader.end[None]))[0]


@pytest.mark.parametrize("name", PROBING)
def test_forward_pass_follows_the_authors_steps(name: str, make_params: Callable) -> None:
    spec = MemberSpec(4, 6, 2, 4)
    torch.manual_seed(0)
    options = {
        "reader_width": 12,
        "encoding_width": 10,
        "decoder_widths": (8,),
        "widths": (8,),
        "probe_length": 5,
    }
    encoder = encoders.build(name, spec, **options).eval()
    params = make_params(spec, 2)

    def probe(output: torch.Tensor, step: int) -> torch.Tensor:
        source = output if name == "probing" else encoder.probe_encodings[step][None]
        return encoder.decode_probe(torch.relu(encoder.to_encodings[0](source)))

    with torch.no_grad():
        ours = encoder(params)
        for m in range(2):
            torch.testing.assert_close(ours[m], reference_embedding(encoder, params, m, probe))


@pytest.mark.parametrize("prenorm", [False, True], ids=["post-ln", "pre-ln"])
def test_param_transformer_layers_compute_torchs_encoder_at_the_summary_token(prenorm: bool) -> None:
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=prenorm)
    reference = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    summary = SummaryTransformer(layer, 3)
    summary.load_state_dict(reference.state_dict())
    tokens = torch.randn(4, 9, 16, requires_grad=True)
    for training in (True, False):
        expected = reference.train(training)(tokens)[:, -1:]
        torch.testing.assert_close(summary.train(training)(tokens), expected)
    (grad,) = torch.autograd.grad(summary.train()(tokens).square().sum(), tokens)
    (expected_grad,) = torch.autograd.grad(reference.train()(tokens)[:, -1:].square().sum(), tokens)
    torch.testing.assert_close(grad, expected_grad)


def test_the_last_layers_attention_is_torchs_at_the_last_token_with_every_gradient() -> None:
    layer = nn.TransformerEncoderLayer(12, 3, 24, dropout=0.0, batch_first=True).double()
    tokens = torch.randn(5, 7, 12, dtype=torch.float64, requires_grad=True)
    ours = encoder_layer(layer, tokens, last_only=True)
    expected = layer(tokens)[:, -1:]
    torch.testing.assert_close(ours, expected)
    inputs = (tokens, *layer.parameters())
    outward = torch.randn(ours.shape, dtype=torch.float64)
    grads = torch.autograd.grad((ours * outward).sum(), inputs, allow_unused=True)
    expected_grads = torch.autograd.grad((expected * outward).sum(), inputs, allow_unused=True)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        # the key bias moves every score alike: the softmax, and so torch too, gives it none
        torch.testing.assert_close(
            grad if grad is not None else torch.zeros_like(expected_grad), expected_grad
        )


def test_param_transformer_drops_out_in_training_only() -> None:
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True)
    summary, tokens = SummaryTransformer(layer, 2), torch.randn(4, 9, 16)
    assert not torch.equal(summary.train()(tokens), summary(tokens))
    assert torch.equal(summary.eval()(tokens), summary(tokens))


@pytest.mark.parametrize("shape", [(3, 1), (4, 2), (5, 7), (2, 4096)])
def test_layer_stats_quantiles_are_numpys_with_ties_and_with_gradients(shape: tuple[int, int]) -> None:
    levels = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    for values in (torch.randn(shape, dtype=torch.float64), torch.randint(0, 3, shape).double()):
        expected = np.quantile(values.numpy(), levels, axis=1).T
        np.testing.assert_allclose(quantiles(values, levels).numpy(), expected)
        tracked = values.clone().requires_grad_()
        np.testing.assert_allclose(quantiles(tracked, levels).detach().numpy(), expected)


def test_probing_reader_reads_a_sequence_as_its_steps_do() -> None:
    reader = encoders.build("probing-noninteractive", MemberSpec(4, 6, 2, 4), reader_width=8).reader.train()
    steps = torch.randn(5, 3, 8, requires_grad=True)
    output, state = reader.begin(3)
    for x in steps:
        output, state = reader.step(x, state)
    expected = reader.finish(state)
    torch.testing.assert_close(reader.read(steps), expected)
    grads = torch.autograd.grad(reader.read(steps).square().sum(), [steps, *reader.parameters()])
    expected_grads = torch.autograd.grad(expected.square().sum(), [steps, *reader.parameters()])
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)
