"""The CPU dropout of rnn_zoo.encoders.dropout against plain torch: its masks' rate, its
expectation, and attention with dropout equal to softmax attention under the same masks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional

from rnn_zoo.encoders import dropout, param_transformer
from rnn_zoo.encoders.param_transformer import SummaryTransformer


@pytest.fixture
def recorded_masks(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Every mask the module draws, in order."""
    masks: list[torch.Tensor] = []
    draw = dropout.keep_mask

    def record(shape: tuple[int, ...], p: float, generator: torch.Generator | None = None) -> torch.Tensor:
        masks.append(draw(shape, p, generator))
        return masks[-1]

    monkeypatch.setattr(dropout, "keep_mask", record)
    return masks


def reference_attention(query, key, value, mask: torch.Tensor, kept: float) -> torch.Tensor:  # noqa: ANN001
    """Softmax attention with the dropout mask given, in plain torch ops."""
    weights = torch.softmax(query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1]), dim=-1)
    return (weights * mask / kept) @ value


def test_kept_fraction_is_one_minus_p_in_steps_of_one_65536th() -> None:
    assert dropout.kept_fraction(0.1) == 1 - 6554 / 65536
    assert dropout.kept_fraction(0.5) == 0.5
    assert dropout.kept_fraction(0.0) == 1.0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_masks_keep_each_entry_at_the_rate_in_every_lane_of_a_word(p: float) -> None:
    mask = dropout.keep_mask((1000, 400), p, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (1000, 400)
    lanes = mask.reshape(-1, 4).double().mean(0)  # the four 16-bit draws of each 64-bit word
    tolerance = 5 * math.sqrt(p * (1 - p) / 100_000)  # five binomial standard deviations
    torch.testing.assert_close(lanes, torch.full((4,), 1 - p, dtype=torch.float64), atol=tolerance, rtol=0)
    neighbours = torch.corrcoef(torch.stack([mask[:, :-1].flatten(), mask[:, 1:].flatten()]).double())[0, 1]
    assert abs(neighbours) < 0.02


def test_masks_follow_the_generator() -> None:
    draw = [dropout.keep_mask((7, 5), 0.3, torch.Generator().manual_seed(seed)) for seed in (1, 1, 2)]
    assert torch.equal(draw[0], draw[1]) and not torch.equal(draw[0], draw[2])


def test_dropout_keeps_the_expectation_and_passes_gradients_through_kept_entries() -> None:
    x = torch.ones(200_000, requires_grad=True)
    dropped = dropout.dropout(x, 0.25, training=True)
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], torch.full_like(dropped[kept], 1 / dropout.kept_fraction(0.25)))
    assert abs(dropped.mean().item() - 1) < 0.01
    dropped.sum().backward()
    torch.testing.assert_close(x.grad, kept / dropout.kept_fraction(0.25))


def test_dropout_outside_training_or_at_zero_is_the_identity() -> None:
    x = torch.randn(5, 3)
    assert torch.equal(dropout.dropout(x, 0.5, training=False), x)
    assert torch.equal(dropout.dropout(x, 0.0, training=True), x)


@pytest.mark.parametrize("queries", [9, 1], ids=["every-token", "last-token"])
@pytest.mark.parametrize("chunk_bytes", [1, 2**20], ids=["pair-by-pair", "one-chunk"])
def test_attention_with_dropout_is_softmax_attention_under_its_masks(
    queries: int, chunk_bytes: int, recorded_masks: list[torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dropout, "CHUNK_BYTES", chunk_bytes)
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(3, 2, queries, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    key, value = (
        torch.randn(3, 2, 9, 4, generator=generator, dtype=torch.float64, requires_grad=True) for _ in "kv"
    )
    ours = dropout.attention(query, key, value, 0.3)
    mask = torch.cat(recorded_masks).reshape(3, 2, queries, 9)
    expected = reference_attention(query, key, value, mask, dropout.kept_fraction(0.3))
    torch.testing.assert_close(ours, expected)
    outward = torch.randn(ours.shape, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad((ours * outward).sum(), (query, key, value))
    expected_grads = torch.autograd.grad((expected * outward).sum(), (query, key, value))
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)


def test_attention_gradients_match_finite_differences_under_fixed_masks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draw = dropout.keep_mask
    monkeypatch.setattr(dropout, "CHUNK_BYTES", 300)  # a few pairs a chunk
    monkeypatch.setattr(
        dropout, "keep_mask", lambda shape, p: draw(shape, p, torch.Generator().manual_seed(5))
    )
    query, key, value = (torch.randn(2, 2, 6, 3, dtype=torch.float64, requires_grad=True) for _ in "qkv")
    assert torch.autograd.gradcheck(lambda *qkv: dropout.attention(*qkv, 0.4), (query, key, value))


def test_attention_without_dropout_is_torchs() -> None:
    query, key, value = (torch.randn(2, 3, 5, 4) for _ in "qkv")
    expected = functional.scaled_dot_product_attention(query, key, value)
    torch.testing.assert_close(dropout.attention(query, key, value, 0.0), expected)


def test_transformer_run_a_few_members_at_a_time_is_torchs_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(param_transformer, "CPU_CHUNK_BYTES", 2 * 9 * 32 * 4)  # two members a chunk
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    reference = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    summary = SummaryTransformer(layer, 2)
    summary.load_state_dict(reference.state_dict())
    tokens = torch.randn(5, 9, 16, requires_grad=True)
    ours, expected = summary(tokens), reference(tokens)[:, -1:]
    torch.testing.assert_close(ours, expected)
    (grad,) = torch.autograd.grad(ours.square().sum(), tokens)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), tokens)
    torch.testing.assert_close(grad, expected_grad)


def test_transformer_layers_drop_out_at_their_rate(recorded_masks: list[torch.Tensor]) -> None:
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.2, batch_first=True)
    SummaryTransformer(layer, 2).train()(torch.randn(50, 30, 16))
    assert recorded_masks  # attention weights, the attention output, the feed-forward's two
    kept = torch.cat([mask.flatten() for mask in recorded_masks]).double().mean().item()
    assert abs(kept - 0.8) < 0.01


def test_the_last_tokens_attention_drops_out_its_weights_and_the_value_bias_with_them(
    recorded_masks: list[torch.Tensor],
) -> None:
    layer = nn.TransformerEncoderLayer(12, 3, 24, dropout=0.3, batch_first=True).double().train()
    nn.init.normal_(layer.self_attn.in_proj_bias)  # torch starts it at zero
    tokens = torch.randn(5, 7, 12, dtype=torch.float64)
    ours = param_transformer._attention(layer, tokens, last_only=True)  # (n, 1, d), before out_proj's dropout
    (mask,) = recorded_masks  # (n, h, t)
    attention = layer.self_attn
    projected = functional.linear(tokens, attention.in_proj_weight, attention.in_proj_bias)
    query, key, value = (part.unflatten(-1, (3, 4)).transpose(1, 2) for part in projected.chunk(3, dim=-1))
    attended = reference_attention(
        query[:, :, -1:], key, value, mask.unsqueeze(2), dropout.kept_fraction(0.3)
    )
    torch.testing.assert_close(ours, attention.out_proj(attended.transpose(1, 2).flatten(2)))
