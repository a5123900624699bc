"""RecurrentEncoder and pooling: shapes for every cell, packing, last-step pooling."""

import pytest
import torch

from seqexp.models.encoder import RecurrentEncoder
from seqexp.models.pooling import pool_sequence


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("conv_layers", [0, 2])
def test_outputs_have_one_step_per_input_step(cell: str, bidirectional: bool, conv_layers: int) -> None:
    encoder = RecurrentEncoder(3, cell=cell, hidden_size=8, num_layers=2, bidirectional=bidirectional,
                               dropout=0.1, conv_channels=4, conv_kernel_size=4, conv_layers=conv_layers)
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
        assert outputs[row, len(sequence):].abs().sum() == 0  # padding never produces outputs
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
