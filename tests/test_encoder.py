"""RecurrentEncoder, LSTMFCNEncoder and pooling: shapes for every cell, packing and masking, last-step
pooling, dimension shuffle, model keys read off the selected encoder."""

import pytest
import torch
from torch import nn

from seqexp.models.encoder import (
    LSTMFCNEncoder,
    MaskedBatchNorm1d,
    RecurrentEncoder,
    build_encoder,
    model_keys,
    resample,
    unknown_model_keys,
)
from seqexp.models.pooling import pool_sequence


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("conv_layers", [0, 2])
def test_outputs_have_one_step_per_input_step(cell: str, bidirectional: bool, conv_layers: int) -> None:
    encoder = RecurrentEncoder(
        3, cell=cell, hidden_size=8, num_layers=2, bidirectional=bidirectional, dropout=0.1, conv_channels=4, conv_kernel_size=4, conv_layers=conv_layers
    )
    outputs, _ = encoder(torch.randn(5, 11, 3))
    assert outputs.shape == (5, 11, 8 * (2 if bidirectional else 1)) == (5, 11, encoder.output_size)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_packed_padded_batch_matches_each_sequence_alone(cell: str) -> None:
    torch.manual_seed(0)
    encoder = RecurrentEncoder(2, cell=cell, hidden_size=6, bidirectional=True, conv_channels=4, conv_layers=1).eval()
    lengths = torch.tensor([7, 3, 5])
    batch = torch.zeros(3, 7, 2)
    sequences = [torch.randn(int(n), 2) for n in lengths]
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    outputs, _ = encoder(batch, lengths)
    pooled = pool_sequence(outputs, lengths, "last", num_directions=2)
    for row, sequence in enumerate(sequences):
        alone, _ = encoder(sequence.unsqueeze(0))
        torch.testing.assert_close(outputs[row, : len(sequence)], alone[0], rtol=1e-5, atol=1e-6)
        assert outputs[row, len(sequence) :].abs().sum() == 0  # padding never produces outputs
        expected_last = torch.cat([alone[0, -1, :6], alone[0, 0, 6:]])
        torch.testing.assert_close(pooled[row], expected_last, rtol=1e-5, atol=1e-6)


def test_masked_mean_and_max_ignore_padding() -> None:
    outputs = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    lengths = torch.tensor([2, 3])
    assert pool_sequence(outputs, lengths, "mean").flatten().tolist() == [2.0, 4.0]
    assert pool_sequence(outputs, lengths, "max").flatten().tolist() == [3.0, 6.0]


def test_unknown_cell_is_named() -> None:
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrentEncoder(1, cell="transformer")


def padded_batch(lengths: list[int], features: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Random sequences of these lengths, zero-padded into one batch: ``(batch, time, features)``, lengths, sequences."""
    sequences = [torch.randn(length, features) for length in lengths]
    batch = torch.zeros(len(lengths), max(lengths), features)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    return batch, torch.tensor(lengths), sequences


def small_lstm_fcn(input_size: int = 3, **overrides) -> LSTMFCNEncoder:
    settings = dict(hidden_size=6, fcn_filters=(4, 8, 6), fcn_kernel_sizes=(8, 5, 3), shuffle_length=7)
    return LSTMFCNEncoder(input_size, **{**settings, **overrides})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("dimension_shuffle", [False, True])
def test_lstm_fcn_outputs_recurrent_and_fcn_features_per_step(cell: str, bidirectional: bool, dimension_shuffle: bool) -> None:
    encoder = small_lstm_fcn(cell=cell, num_layers=2, bidirectional=bidirectional, dropout=0.1, dimension_shuffle=dimension_shuffle, branch_dropout=0.5)
    outputs, state = encoder(torch.randn(5, 11, 3))
    directions = 2 if bidirectional else 1
    assert outputs.shape == (5, 11, 6 * directions + 6) == (5, 11, encoder.output_size)
    assert encoder.num_directions == directions
    hidden = state[0] if cell == "lstm" else state
    assert hidden.shape == (2 * directions, 5, 6)  # the recurrent branch's state


def test_last_pooling_gives_the_papers_concatenation() -> None:
    torch.manual_seed(0)
    encoder = small_lstm_fcn().eval()
    inputs = torch.randn(4, 9, 3)
    outputs, _ = encoder(inputs)
    recurrent, _ = encoder.rnn(inputs)
    expected = torch.cat([recurrent[:, -1], encoder.fcn(inputs)], dim=1)
    torch.testing.assert_close(pool_sequence(outputs, None, "last"), expected)
    torch.testing.assert_close(outputs[:, :, 6:], encoder.fcn(inputs).unsqueeze(1).expand(-1, 9, -1))  # FCN vector at every step


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("dimension_shuffle", [False, True])
def test_lstm_fcn_padding_does_not_change_a_sequences_outputs(bidirectional: bool, dimension_shuffle: bool) -> None:
    torch.manual_seed(0)
    encoder = small_lstm_fcn(bidirectional=bidirectional, dimension_shuffle=dimension_shuffle)
    encoder(*padded_batch([9, 4, 6, 2], 3)[:2])  # one training step: running batch-norm statistics away from 0/1
    encoder.eval()
    batch, lengths, sequences = padded_batch([9, 2, 5], 3)
    outputs, _ = encoder(batch, lengths)
    pooled = {method: pool_sequence(outputs, lengths, method, encoder.num_directions) for method in ("last", "mean", "max")}
    for row, sequence in enumerate(sequences):
        alone, _ = encoder(sequence.unsqueeze(0))
        torch.testing.assert_close(outputs[row, : len(sequence)], alone[0], rtol=1e-5, atol=1e-5)
        assert outputs[row, len(sequence) :].abs().sum() == 0  # padding never produces outputs
        for method, vectors in pooled.items():
            expected = pool_sequence(alone, None, method, encoder.num_directions)[0]
            torch.testing.assert_close(vectors[row], expected, rtol=1e-5, atol=1e-5)


def test_batch_norm_statistics_count_only_valid_steps() -> None:
    torch.manual_seed(0)
    masked, plain = MaskedBatchNorm1d(4), nn.BatchNorm1d(4)
    batch, lengths, sequences = padded_batch([7, 3, 5], 4)
    batch[1, 3:] = 100.0  # whatever sits in the padding
    inputs = batch.transpose(1, 2)  # (batch, channels, time)
    valid = (torch.arange(7) < lengths.unsqueeze(1)).float().unsqueeze(1)
    normalized = masked(inputs, valid)
    concatenated = plain(torch.cat(sequences).T.unsqueeze(0))  # every valid step, no padding: (1, channels, steps)
    torch.testing.assert_close(torch.cat([normalized[row, :, :n] for row, n in enumerate(lengths)], dim=1), concatenated[0])
    torch.testing.assert_close(masked.running_mean, plain.running_mean)
    torch.testing.assert_close(masked.running_var, plain.running_var)


def test_dimension_shuffle_reads_channels_as_steps() -> None:
    torch.manual_seed(0)
    encoder = small_lstm_fcn(input_size=3, dimension_shuffle=True, shuffle_length=9).eval()
    assert encoder.rnn.input_size == 9
    inputs = torch.randn(2, 9, 3)  # length == shuffle_length: the paper's shuffle exactly, no resampling
    outputs, _ = encoder(inputs)
    recurrent, _ = encoder.rnn(inputs.transpose(1, 2))  # 3 steps (the channels) of 9 values
    torch.testing.assert_close(outputs[:, :, :6], recurrent[:, -1:].expand(-1, 9, -1))  # its summary, at every step


def test_resample_interpolates_each_sequences_valid_steps() -> None:
    inputs = torch.tensor([[0.0, 2.0, 4.0], [10.0, 20.0, 0.0]]).unsqueeze(2)  # second: 2 valid steps, then padding
    resampled = resample(inputs, torch.tensor([3, 2]), 5).squeeze(2)
    assert resampled.tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0], [10.0, 12.5, 15.0, 17.5, 20.0]]
    same = torch.randn(2, 6, 3)
    assert torch.equal(resample(same, None, 6), same)


def test_architecture_picks_the_encoder_and_its_keys() -> None:
    assert isinstance(build_encoder(2, {"hidden_size": 4}), RecurrentEncoder)  # no architecture: a checkpoint from before it
    encoder = build_encoder(
        2, {"architecture": "lstm_fcn", "hidden_size": 4, "conv": None, "fcn": {"filters": [6, 4], "kernel_sizes": [3, 3]}, "compile": False}
    )
    assert isinstance(encoder, LSTMFCNEncoder) and encoder.output_size == 4 + 4
    assert {"fcn.filters", "fcn.kernel_sizes", "dimension_shuffle"} <= set(model_keys("lstm_fcn"))
    assert "conv.layers" in model_keys("recurrent") and "conv.layers" not in model_keys("lstm_fcn")
    with pytest.raises(ValueError, match="model.architecture='transformer'"):
        build_encoder(2, {"architecture": "transformer"})


def test_unknown_model_keys_are_named_for_the_selected_architecture() -> None:
    fcn_model = {"architecture": "lstm_fcn", "hidden_size": 4, "conv": {"layers": 2}, "fcn": {"filters": [4], "kernels": [3]}}
    assert unknown_model_keys(fcn_model) == ["model.conv.layers", "model.fcn.kernels"]
    recurrent_model = {"architecture": "recurrent", "conv": {"layers": 2}, "fcn": {"filters": [4]}, "dimension_shuffle": True}
    assert unknown_model_keys(recurrent_model) == ["model.fcn.filters", "model.dimension_shuffle"]
    assert unknown_model_keys({"architecture": "lstm_fcn", "conv": None, "fcn": {"filters": [4]}}) == []  # a dropped section


def test_lstm_fcn_settings_that_do_not_fit_are_named() -> None:
    with pytest.raises(ValueError, match=r"model.fcn.filters=\[4, 8\] and model.fcn.kernel_sizes=\[3\]"):
        LSTMFCNEncoder(2, fcn_filters=(4, 8), fcn_kernel_sizes=(3,))
    with pytest.raises(ValueError, match="must be even with model.bidirectional=true"):
        LSTMFCNEncoder(2, bidirectional=True, fcn_filters=(5,), fcn_kernel_sizes=(3,))
    with pytest.raises(ValueError, match="cell must be one of"):
        LSTMFCNEncoder(2, cell="transformer")
