"""Stateful data and truncated backpropagation through time, for the task that serves it (regression).

With ``data.stateful=true`` consecutive batches continue the same streams: the encoder's final state of one
batch is the initial state of the next, detached so gradients stop at the batch boundary (truncated BPTT),
reset when an epoch starts and saved in mid-epoch checkpoints. With ``data.chunks_per_batch=K`` each training
batch holds K consecutive batches, ``(chunk, batch, ...)``: one optimizer step per chunk, which Lightning
supports as manual optimization, so the epoch's learning-rate schedule is stepped here as Lightning steps it
under automatic optimization (a plateau schedule with its monitored metric).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import move_data_to_device

from seqexp.models.encoder import State


def detach_state(state: State) -> State:
    """Cut the graph at a batch boundary: truncated backpropagation through time."""
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()


class TruncatedBPTT(L.LightningModule):
    """Mixed in before :class:`~seqexp.tasks.base.SequenceTask` (``class RegressionTask(TruncatedBPTT, SequenceTask)``):
    carries the state of stateful data between batches, and trains chunked batches one optimizer step per chunk."""

    # (gradient_clip_val, gradient_clip_algorithm) for manual optimization: Lightning refuses the Trainer's own
    # under it, so seqexp.builder hands them here and clears them on the Trainer.
    gradient_clipping: tuple[float | None, str] = (None, "norm")

    @cached_property
    def _carried_state(self) -> dict[str, State | None]:
        """Per stage (train, val, test, predict): the state the next batch starts from (None: zeros)."""
        return {}

    @property
    def automatic_optimization(self) -> bool:
        """False for chunked batches (``data.chunks_per_batch`` > 1): one optimizer step per chunk."""
        return self.spec.chunks_per_batch == 1

    def encode(self, inputs: torch.Tensor, lengths: torch.Tensor | None, stage: str) -> torch.Tensor:
        if not self.spec.stateful:
            return super().encode(inputs, lengths, stage)
        outputs, state = self.encoder(self.embed(inputs), lengths, self._carried_state.get(stage))
        self._carried_state[stage] = detach_state(state)
        return outputs

    def _start_epoch(self, stage: str) -> None:
        super()._start_epoch(stage)
        self._carried_state[stage] = None

    def on_predict_epoch_start(self) -> None:
        self._carried_state["predict"] = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A mid-epoch checkpoint resumes at the next batch (the resumable train loader): keep the carried state too.
        if self.spec.stateful:
            checkpoint["carried_train_state"] = self._carried_state.get("train")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self._carried_state["train"] = checkpoint.get("carried_train_state")

    def on_train_start(self) -> None:
        # Restored before the model reaches its device; an epoch start resets it anyway.
        self._carried_state["train"] = move_data_to_device(self._carried_state.get("train"), self.device)

    def optimizer_steps_done(self) -> tuple[int, int]:
        if self.automatic_optimization:
            return super().optimizer_steps_done()
        steps = self.trainer.global_step  # the chunks' steps are taken already; every batch holds chunks_per_batch
        return steps, steps // self.spec.chunks_per_batch

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.automatic_optimization:
            return super().training_step(batch, batch_idx)
        return self._train_chunks(batch, batch_idx)

    def _train_chunks(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Truncated BPTT over consecutive batches, each tensor ``(chunk, batch, ...)``: per chunk a forward
        pass from the carried state (``encode`` detaches it between chunks), backward and one optimizer
        step, as Lightning's manual optimization does it (``manual_backward`` handles mixed precision).
        The same math as one chunk per batch, with Lightning's per-batch work paid once per batch.
        Returns the chunks' losses ``(chunks,)``, detached (what callbacks such as NanGuard read)."""
        optimizer = self.optimizers()
        losses = []
        for index in range(len(batch["inputs"])):
            chunk = {name: values[index] for name, values in batch.items()}
            outputs = self(chunk, "train")
            loss = self.compute_loss(chunk, outputs)
            self.update_metrics("train", chunk, outputs, batch_idx)
            self.manual_backward(loss)
            optimizer.step()  # clips first: on_before_optimizer_step, after mixed precision unscales
            optimizer.zero_grad()
            self._step_schedulers("step", self.trainer.global_step)
            losses.append(loss.detach())
        chunk_losses = torch.stack(losses)
        self.log_train_loss(chunk_losses)
        return chunk_losses

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        clip_value, algorithm = self.gradient_clipping
        if not self.automatic_optimization and clip_value:  # automatic optimization: the Trainer clips
            self.clip_gradients(optimizer, gradient_clip_val=clip_value, gradient_clip_algorithm=algorithm)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if not self.automatic_optimization:
            self._step_schedulers("epoch", self.current_epoch + 1)

    def _step_schedulers(self, interval: str, count: int) -> None:
        """Manual optimization: step the schedulers of ``interval`` (epoch, or optimizer step) whose frequency
        ``count`` reaches, as Lightning does under automatic optimization (a plateau scheduler with its metric)."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval or count % config.frequency:
                continue
            if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                value = self.trainer.callback_metrics.get(self._scheduler_monitor)
                if value is None:
                    raise ValueError(
                        f"scheduler.monitor={self._scheduler_monitor!r} was not logged this {interval}; logged: {sorted(self.trainer.callback_metrics)}"
                    )
                config.scheduler.step(value)
            else:
                config.scheduler.step()

    def configure_optimizers(self) -> Any:
        configured = super().configure_optimizers()
        if not self.automatic_optimization and isinstance(configured, dict):  # Lightning ignores (and warns about)
            self._scheduler_monitor = configured["lr_scheduler"].pop("monitor", None)  # a monitor here: _step_schedulers uses it
        return configured
