"""One recurrent encoder behind every ``model=`` preset: optional Conv1d front, then RNN/LSTM/GRU.

cuDNN-backed ``nn.RNN``/``nn.LSTM``/``nn.GRU`` do the whole sequence in one call (no Python loop
over time steps); padded batches go through ``pack_padded_sequence`` so padding never reaches
the recurrent state.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# A `model` config section (conf/model/*.yaml) holds the encoder's constructor arguments, with the Conv1d
# front's nested under `conv` (conv.layers -> conv_layers), and `compile`, which wraps the built encoder.
NESTED_SECTION = "conv"
WRAPPER_KEYS = ("compile",)

# Hidden state as the cell returns it: a tensor, or (h, c) for LSTM; each (layers*directions, batch, hidden).
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class ConvFront(nn.Sequential):
    """Conv1d feature extractor over time; 'same' padding keeps one output per input step."""

    def __init__(self, input_size: int, channels: int, kernel_size: int, layers: int) -> None:
        blocks: list[nn.Module] = []
        for index in range(layers):
            in_channels = input_size if index == 0 else channels
            blocks += [nn.Conv1d(in_channels, channels, kernel_size, padding="same"), nn.ReLU()]
        super().__init__(*blocks)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # (batch, time, feature) -> (batch, feature, time) for Conv1d and back.
        outputs = inputs.transpose(1, 2)
        if lengths is None:
            return super().forward(outputs).transpose(1, 2)
        # Zero the padded steps before every conv, as a sequence alone is zero-padded: padding never
        # leaks into the valid steps near a sequence's end.
        valid = torch.arange(outputs.shape[2], device=outputs.device) < lengths.to(outputs.device).unsqueeze(1)
        valid = valid.unsqueeze(1).to(outputs.dtype)  # (batch, 1, time)
        for block in self:
            outputs = block(outputs * valid if isinstance(block, nn.Conv1d) else outputs)
        return outputs.transpose(1, 2)


class RecurrentEncoder(nn.Module):
    """Features ``(batch, time, input_size)`` -> outputs ``(batch, time, output_size)`` and state."""

    def __init__(
        self,
        input_size: int,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        conv_channels: int = 0,
        conv_kernel_size: int = 3,
        conv_layers: int = 0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.conv = (
            ConvFront(input_size, conv_channels, conv_kernel_size, conv_layers)
            if conv_layers > 0
            else None
        )
        rnn_input_size = conv_channels if self.conv is not None else input_size
        self.rnn = CELLS[cell](
            rnn_input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions

    def forward(
        self,
        inputs: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, State]:
        if self.conv is not None:
            inputs = self.conv(inputs, lengths)
        if lengths is None:
            return self.rnn(inputs, state)
        total_length = inputs.shape[1]
        packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_outputs, state = self.rnn(packed, state)
        outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=total_length)
        return outputs, state


def model_keys() -> list[str]:
    """Every key a ``model`` section may hold, read off the encoder's signature (no hand-kept list)."""
    arguments = [name for name in inspect.signature(RecurrentEncoder).parameters if name != "input_size"]
    nested = f"{NESTED_SECTION}_"
    return [name.replace(nested, f"{NESTED_SECTION}.", 1) if name.startswith(nested) else name for name in arguments] + list(WRAPPER_KEYS)


def unknown_model_keys(model: dict) -> list[str]:
    """Full names (``model.x``, ``model.conv.x``) of the keys in ``model`` that no argument takes: typos."""
    allowed = set(model_keys())
    names = [f"{NESTED_SECTION}.{key}" for key in model.get(NESTED_SECTION) or {}]
    names += [key for key in model if key != NESTED_SECTION]
    return [f"model.{name}" for name in names if name not in allowed]


def encoder_arguments(model: dict) -> dict[str, Any]:
    """The encoder's constructor arguments from a ``model`` section (``conv.layers`` -> ``conv_layers``)."""
    arguments = {key: value for key, value in model.items() if key != NESTED_SECTION and key not in WRAPPER_KEYS}
    arguments.update({f"{NESTED_SECTION}_{key}": value for key, value in (model.get(NESTED_SECTION) or {}).items()})
    return arguments


def build_encoder(input_size: int, model: dict) -> RecurrentEncoder:
    """Encoder from a ``model`` config section (see conf/model/*.yaml for the keys)."""
    return RecurrentEncoder(input_size, **encoder_arguments(model))
