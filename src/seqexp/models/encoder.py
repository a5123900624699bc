"""The encoders behind the ``model=`` presets, picked by ``model.architecture``:

- ``recurrent`` (``RecurrentEncoder``): optional Conv1d front, then RNN/LSTM/GRU;
- ``lstm_fcn`` (``LSTMFCNEncoder``): a fully convolutional branch beside a recurrent one (Karim et al. 2017).

cuDNN-backed ``nn.RNN``/``nn.LSTM``/``nn.GRU`` do the whole sequence in one call (no Python loop
over time steps); padded batches go through ``pack_padded_sequence`` so padding never reaches
the recurrent state, and the convolutions zero padded steps, so a sequence's outputs do not
depend on what it is batched with.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqexp.checks import Range
from seqexp.masks import valid_step_mask

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# A `model` config section (conf/model/*.yaml) holds `architecture`, which picks the encoder class, that
# class's constructor arguments, with those of a nested section under its name (conv.layers -> conv_layers,
# fcn.filters -> fcn_filters), and `compile`, which wraps the built encoder.
NESTED_SECTIONS = ("conv", "fcn")
SELECTOR_KEY = "architecture"
DEFAULT_ARCHITECTURE = "recurrent"  # also what a checkpoint from before `architecture` existed gets
WRAPPER_KEYS = ("compile",)

# Hidden state as the cell returns it: a tensor, or (h, c) for LSTM; each (layers*directions, batch, hidden).
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float) -> nn.RNNBase:
    """The cuDNN-backed RNN/LSTM/GRU of every encoder, batch-first (dropout only between stacked layers)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
    )


def run_recurrent(rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor | None, state: State | None) -> tuple[torch.Tensor, State]:
    """``rnn`` over ``(batch, time, features)``; padded batches are packed, so padding never reaches the state."""
    if lengths is None:
        return rnn(inputs, state)
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    packed_outputs, state = rnn(packed, state)
    outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=inputs.shape[1])
    return outputs, state


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
        valid = valid_step_mask(lengths, outputs.shape[2], outputs.device).unsqueeze(1).to(outputs.dtype)  # (batch, 1, time)
        for block in self:
            outputs = block(outputs * valid if isinstance(block, nn.Conv1d) else outputs)
        return outputs.transpose(1, 2)


class Encoder(nn.Module):
    """What every encoder tells the task besides its outputs: ``output_size`` and ``num_directions`` (what heads
    and pooling read), set by the encoder; and, from its recurrent layer ``rnn``, the ``cell`` and ``hidden_size``
    (an anomaly autoencoder's decoder mirrors them) and the shape of the state it carries."""

    rnn: nn.RNNBase
    output_size: int
    num_directions: int

    @property
    def cell(self) -> str:
        """The key of ``CELLS`` the recurrent layer is: rnn, lstm or gru."""
        return next(name for name, kind in CELLS.items() if type(self.rnn) is kind)

    @property
    def hidden_size(self) -> int:
        return self.rnn.hidden_size

    def state_shape(self, batch: int | str) -> list[int | str]:
        """``(layers * directions, batch, hidden)``, as ``nn.RNN``/``nn.LSTM``/``nn.GRU`` keep the state."""
        return [self.rnn.num_layers * self.num_directions, batch, self.rnn.hidden_size]


class RecurrentEncoder(Encoder):
    """Features ``(batch, time, input_size)`` -> outputs ``(batch, time, output_size)`` and state."""

    def __init__(
        self,
        input_size: int,
        cell: Literal["gru", "lstm", "rnn"] = "lstm",  # the keys of CELLS
        hidden_size: Annotated[int, Range(ge=1)] = 64,
        num_layers: Annotated[int, Range(ge=1)] = 1,
        bidirectional: bool = False,
        dropout: Annotated[float, Range(ge=0, lt=1)] = 0.0,
        conv_channels: Annotated[int, Range(ge=1)] = 0,  # used only with conv_layers > 0
        conv_kernel_size: Annotated[int, Range(ge=1)] = 3,
        conv_layers: Annotated[int, Range(ge=0)] = 0,
    ) -> None:
        super().__init__()
        self.conv = ConvFront(input_size, conv_channels, conv_kernel_size, conv_layers) if conv_layers > 0 else None
        rnn_input_size = conv_channels if self.conv is not None else input_size
        self.rnn = recurrent_layer(cell, rnn_input_size, hidden_size, num_layers, bidirectional, dropout)
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
        return run_recurrent(self.rnn, inputs, lengths, state)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch norm of ``(batch, channels, time)`` whose training statistics count only the valid steps.

    ``valid`` ``(batch, 1, time)`` is 1 on real steps and 0 on padding; without it (an unpadded batch)
    this is ``nn.BatchNorm1d``. In evaluation the running statistics are used either way.
    """

    def forward(self, inputs: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        if valid is None or not self.training:
            return super().forward(inputs)
        count = valid.sum()
        mean = (inputs * valid).sum((0, 2)) / count
        variance = ((inputs - mean[:, None]) ** 2 * valid).sum((0, 2)) / count
        with torch.no_grad():  # as nn.BatchNorm1d: the running variance is the unbiased one
            self.num_batches_tracked.add_(1)
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * count / (count - 1).clamp(min=1), self.momentum)
        normalized = (inputs - mean[:, None]) * torch.rsqrt(variance[:, None] + self.eps)
        return normalized * self.weight[:, None] + self.bias[:, None]


class FullyConvolutionalBranch(nn.Module):
    """FCN (Wang et al. 2017): blocks of Conv1d, batch norm and ReLU, then global average pooling over
    the valid steps: ``(batch, time, input_size)`` -> ``(batch, filters[-1])``."""

    def __init__(self, input_size: int, filters: list[int], kernel_sizes: list[int]) -> None:
        super().__init__()
        channels = [input_size, *filters]
        # 'Same' padding written out, (k - 1) // 2 zeros before and k // 2 after (as Keras pads an even
        # kernel; padding="same" warns on it and copies the input); no conv bias: the batch norm's shift
        # takes its place.
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.ConstantPad1d(((kernel_size - 1) // 2, kernel_size // 2), 0.0),
                nn.Conv1d(channels[index], channels[index + 1], kernel_size, bias=False),
            )
            for index, kernel_size in enumerate(kernel_sizes)
        )
        self.norms = nn.ModuleList(MaskedBatchNorm1d(count) for count in filters)
        self.output_size = filters[-1]

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        outputs = inputs.transpose(1, 2)  # (batch, feature, time) for Conv1d
        if lengths is None:
            for conv, norm in zip(self.convs, self.norms):
                outputs = torch.relu(norm(conv(outputs)))
            return outputs.mean(2)
        valid = valid_step_mask(lengths, outputs.shape[2], outputs.device).unsqueeze(1).to(outputs.dtype)  # (batch, 1, time)
        for conv, norm in zip(self.convs, self.norms):
            # Padding zeroed before every conv, as a sequence alone sees the zeros of the conv's own padding.
            outputs = torch.relu(norm(conv(outputs * valid), valid))
        return (outputs * valid).sum(2) / valid.sum(2).clamp(min=1)


def resample(inputs: torch.Tensor, lengths: torch.Tensor | None, steps: int) -> torch.Tensor:
    """Each sequence's valid steps linearly interpolated to ``steps`` points, first and last kept:
    ``(batch, time, feature)`` -> ``(batch, steps, feature)``. The identity when ``steps`` is the length."""
    batch, time, features = inputs.shape
    if lengths is None:
        lengths = torch.full((batch,), time)
    last = (lengths.to(inputs.device) - 1).clamp(min=0)  # (batch,)
    # j * (length - 1) / (steps - 1): whole numbers stay exact, so steps == length reads every step as is.
    positions = torch.arange(steps, device=inputs.device).unsqueeze(0) * last.unsqueeze(1) / max(steps - 1, 1)
    lower = positions.floor().long()
    upper = torch.minimum(lower + 1, last.unsqueeze(1))
    weight = (positions - lower).to(inputs.dtype).unsqueeze(2)  # (batch, steps, 1)
    pick = lambda index: inputs.gather(1, index.unsqueeze(2).expand(batch, steps, features))  # noqa: E731
    return pick(lower) * (1 - weight) + pick(upper) * weight


class LSTMFCNEncoder(Encoder):
    """LSTM-FCN (Karim et al. 2017, *LSTM Fully Convolutional Networks for Time Series Classification*):
    a fully convolutional branch beside a recurrent one, their vectors concatenated for the head.

    Per step the outputs are ``[recurrent outputs, FCN vector]``, the FCN's globally averaged vector
    repeated over time, so ``task.pooling=last`` gives the paper's concatenation (last recurrent state,
    FCN vector) and ``mean``/``max``/``attention`` pool the recurrent outputs beside the same FCN vector.

    ``dimension_shuffle`` feeds the recurrent branch the transposed input, as the paper does: it reads
    the channels as steps, each step a vector of the channel's values over time. Those need a fixed
    count, so each sequence's valid steps are resampled to ``shuffle_length`` values (the identity when
    that is the sequence's length). The recurrent branch then has one summary (its last step, and the
    backward direction's first), repeated over time like the FCN vector.

    With ``bidirectional`` and no shuffle, each step is laid out as ``[forward, FCN first half, backward,
    FCN second half]``: the two halves the ``last`` pooling reads at the last and first step (so the
    last block's filters must be even). The state is the recurrent branch's.
    """

    def __init__(
        self,
        input_size: int,
        cell: Literal["gru", "lstm", "rnn"] = "lstm",  # the keys of CELLS
        hidden_size: Annotated[int, Range(ge=1)] = 64,
        num_layers: Annotated[int, Range(ge=1)] = 1,
        bidirectional: bool = False,
        dropout: Annotated[float, Range(ge=0, lt=1)] = 0.0,
        fcn_filters: tuple[Annotated[int, Range(ge=1)], ...] = (128, 256, 128),
        fcn_kernel_sizes: tuple[Annotated[int, Range(ge=1)], ...] = (8, 5, 3),
        dimension_shuffle: bool = False,
        shuffle_length: Annotated[int, Range(ge=1)] = 64,
        branch_dropout: Annotated[float, Range(ge=0, lt=1)] = 0.0,
    ) -> None:
        super().__init__()
        problems = lstm_fcn_problems(bidirectional, list(fcn_filters), list(fcn_kernel_sizes), dimension_shuffle)
        if problems:
            raise ValueError("; ".join(problems))
        self.fcn = FullyConvolutionalBranch(input_size, list(fcn_filters), list(fcn_kernel_sizes))
        self.dimension_shuffle = dimension_shuffle
        self.shuffle_length = shuffle_length
        self.rnn = recurrent_layer(cell, shuffle_length if dimension_shuffle else input_size, hidden_size, num_layers, bidirectional, dropout)
        self.branch_dropout = nn.Dropout(branch_dropout)
        self.num_directions = 2 if bidirectional else 1
        self.recurrent_size = hidden_size * self.num_directions
        self.output_size = self.recurrent_size + self.fcn.output_size

    def _recurrent(self, inputs: torch.Tensor, lengths: torch.Tensor | None, state: State | None) -> tuple[torch.Tensor, State]:
        """Recurrent branch: ``(batch, time, recurrent_size)`` outputs and its state."""
        time = inputs.shape[1]
        if self.dimension_shuffle:
            channels_as_steps = resample(inputs, lengths, self.shuffle_length).transpose(1, 2)  # (batch, channels, shuffle_length)
            outputs, state = self.rnn(channels_as_steps, state)
            hidden = self.recurrent_size // self.num_directions
            summary = torch.cat([outputs[:, -1, :hidden], outputs[:, 0, hidden:]], dim=1)  # backward: its last read
            return summary.unsqueeze(1).expand(-1, time, -1), state
        return run_recurrent(self.rnn, inputs, lengths, state)

    def forward(
        self,
        inputs: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, State]:
        recurrent, state = self._recurrent(inputs, lengths, state)
        recurrent = self.branch_dropout(recurrent)
        convolutional = self.fcn(inputs, lengths).unsqueeze(1).expand(-1, inputs.shape[1], -1)  # (batch, time, filters)
        if self.num_directions == 2 and not self.dimension_shuffle:
            hidden, half = self.recurrent_size // 2, self.fcn.output_size // 2
            parts = [recurrent[..., :hidden], convolutional[..., :half], recurrent[..., hidden:], convolutional[..., half:]]
        else:
            parts = [recurrent, convolutional]
        outputs = torch.cat(parts, dim=2)
        if lengths is not None:  # padded steps carry no output, as the recurrent encoder's
            outputs = outputs * valid_step_mask(lengths, outputs.shape[1], outputs.device).unsqueeze(2).to(outputs.dtype)
        return outputs, state


def lstm_fcn_problems(bidirectional: bool, filters: list[int], kernel_sizes: list[int], dimension_shuffle: bool) -> list[str]:
    """What is wrong with an LSTM-FCN's settings together, each message naming its ``model.`` keys."""
    problems = []
    if not filters or len(filters) != len(kernel_sizes):
        problems.append(f"model.fcn.filters={filters} and model.fcn.kernel_sizes={kernel_sizes}: one kernel size per block's filter count, at least one block")
    elif bidirectional and not dimension_shuffle and filters[-1] % 2:
        problems.append(
            f"model.fcn.filters={filters}: the last block's count must be even with model.bidirectional=true "
            "and model.dimension_shuffle=false (half of the FCN vector goes with each direction)"
        )
    return problems


ENCODERS: dict[str, type[nn.Module]] = {"recurrent": RecurrentEncoder, "lstm_fcn": LSTMFCNEncoder}


def encoder_class(architecture: str) -> type[nn.Module]:
    if architecture not in ENCODERS:
        raise ValueError(f"model.{SELECTOR_KEY}={architecture!r}: must be one of {sorted(ENCODERS)}")
    return ENCODERS[architecture]


def model_keys(architecture: str = DEFAULT_ARCHITECTURE) -> list[str]:
    """Every key a ``model`` section of this architecture may hold, read off its encoder's signature
    (no hand-kept list)."""
    arguments = [name for name in inspect.signature(encoder_class(architecture)).parameters if name != "input_size"]
    keys = [SELECTOR_KEY]
    for name in arguments:
        section = next((section for section in NESTED_SECTIONS if name.startswith(f"{section}_")), None)
        keys.append(name.replace(f"{section}_", f"{section}.", 1) if section else name)
    return keys + list(WRAPPER_KEYS)


def model_architecture(model: dict) -> str:
    return model.get(SELECTOR_KEY) or DEFAULT_ARCHITECTURE


def unknown_model_keys(model: dict) -> list[str]:
    """Full names (``model.x``, ``model.conv.x``) of the keys in ``model`` that no argument of the selected
    encoder takes: typos, or another architecture's keys. None for an unknown architecture (its own
    rule names it). A nested section set to null is left out, as a preset drops an inherited one."""
    if model_architecture(model) not in ENCODERS:
        return []
    allowed = set(model_keys(model_architecture(model)))
    names = [f"{section}.{key}" for section in NESTED_SECTIONS for key in model.get(section) or {}]
    names += [key for key in model if key not in NESTED_SECTIONS]
    return [f"model.{name}" for name in names if name not in allowed]


def encoder_arguments(model: dict) -> dict[str, Any]:
    """The encoder's constructor arguments from a ``model`` section (``conv.layers`` -> ``conv_layers``)."""
    arguments = {key: value for key, value in model.items() if key not in NESTED_SECTIONS and key not in WRAPPER_KEYS and key != SELECTOR_KEY}
    for section in NESTED_SECTIONS:
        arguments.update({f"{section}_{key}": value for key, value in (model.get(section) or {}).items()})
    return arguments


def build_encoder(input_size: int, model: dict) -> nn.Module:
    """Encoder from a ``model`` config section (see conf/model/*.yaml for the keys): an nn.Module with
    ``output_size`` and ``num_directions``, called as ``encoder(inputs, lengths, state) -> (outputs, state)``
    with outputs ``(batch, time, output_size)``."""
    return encoder_class(model_architecture(model))(input_size, **encoder_arguments(model))
