"""The benchmark's yardstick (case A of ``benchmark.py``): the loop a user would write without a framework,
plain ``nn.Embedding``/``nn.LSTM``/``nn.Linear`` and Adam over batches built once in memory, and the
clocks both sides are timed with."""

from __future__ import annotations

import time
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

Batch = dict[str, torch.Tensor]


def clock() -> tuple[float, float]:
    """Wall time and this process's CPU time: on a busy machine the CPU time is the steadier figure."""
    return time.perf_counter(), time.process_time()


def rates(steps: int, start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    """Steps per wall-clock second and per CPU second."""
    return steps / (end[0] - start[0]), steps / (end[1] - start[1])


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class HandModel(nn.Module):
    """What a user would write without a framework: (embedding) -> RNN -> head, for each target kind."""

    def __init__(self, cfg: DictConfig, spec: Any) -> None:
        super().__init__()
        model, task = cfg.model, cfg.task
        if model.bidirectional or model.conv.layers or task.get("pooling", "max") != "max" or task.get("mode", "forecast") != "forecast":
            raise NotImplementedError("the hand-written loop covers one-way RNNs, max pooling and forecast-mode anomaly")
        self.kind = spec.target_kind
        self.tokens = spec.input_kind == "tokens"
        input_size = task.embedding.dim if self.tokens else spec.input_size
        self.embedding = nn.Embedding(spec.input_size, input_size, padding_idx=spec.padding_index) if self.tokens else None
        self.input_dropout = nn.Dropout(task.embedding.dropout if self.tokens else 0.0)
        self.word_dropout = task.embedding.get("word_dropout", 0.0) if self.tokens else 0.0
        cells = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
        dropout = model.dropout if model.num_layers > 1 else 0.0
        self.rnn = cells[model.cell](input_size, model.hidden_size, model.num_layers, batch_first=True, dropout=dropout)
        self.horizon = task.get("horizon", 1)
        widths = {"per_step": spec.output_size, "class": spec.output_size, "anomaly": self.horizon * spec.output_size}
        self.output_dropout = nn.Dropout(task.get("dropout", 0.0) if self.kind == "class" else 0.0)
        self.head = nn.Linear(model.hidden_size, widths[self.kind])
        self.burn_in = spec.burn_in_steps

    def loss(self, batch: Batch, state: Any) -> tuple[torch.Tensor, Any]:
        inputs, targets = batch["inputs"], batch["targets"]
        if self.kind == "per_step":  # (batch, time, feature) -> same, MSE after the burn-in steps
            outputs, state = self.rnn(inputs, state)
            return nn.functional.mse_loss(self.head(outputs)[:, self.burn_in :].float(), targets[:, self.burn_in :]), state
        if self.kind == "anomaly":  # the window's last `horizon` steps from the steps before them
            context, future = inputs[:, : -self.horizon], inputs[:, -self.horizon :]
            outputs, _ = self.rnn(context)
            prediction = self.head(outputs[:, -1]).view_as(future)
            return (prediction.float() - future).pow(2).mean(), None
        lengths = batch["lengths"]  # class: packed padded tokens, max over the valid steps
        embedded = self.input_dropout(self.embedding(inputs))
        if self.word_dropout > 0:  # whole tokens zeroed, as the task does
            embedded = embedded * (torch.rand(inputs.shape, device=inputs.device) >= self.word_dropout).unsqueeze(-1)
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=inputs.shape[1])
        valid = torch.arange(inputs.shape[1], device=inputs.device) < lengths.to(inputs.device).unsqueeze(1)
        pooled = outputs.masked_fill(~valid.unsqueeze(-1), float("-inf")).max(dim=1).values
        return nn.functional.cross_entropy(self.head(self.output_dropout(pooled)).float(), targets), None


def detached(state: Any) -> Any:
    if state is None:
        return None
    return tuple(part.detach() for part in state) if isinstance(state, tuple) else state.detach()


def hand_written_steps_per_s(
    cfg: DictConfig, spec: Any, batches: list[Batch], warmup: int, steps: int, device: torch.device, precision: str
) -> tuple[float, float]:
    """Optimizer steps per wall-clock and per CPU second over ``steps`` steps after ``warmup`` untimed ones."""
    torch.manual_seed(cfg.seed)
    model = HandModel(cfg, spec).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    state, started = None, (0.0, 0.0)
    for index in range(warmup + steps):
        if index == warmup:
            synchronize(device)
            started = clock()
        batch = {name: value.to(device, non_blocking=True) for name, value in batches[index % len(batches)].items()}
        with autocast:
            loss, state = model.loss(batch, state if spec.stateful else None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state = detached(state)
    synchronize(device)
    return rates(steps, started, clock())
