"""Shared LightningModule plumbing: input layer + encoder from the data spec and ``model``,
optimizer/scheduler from config, the train/val/test steps and the logging of their losses and metrics,
figure hook, and the two halves of prediction: ``predict_step`` (a batch's predictions in the data's
units, for ``trainer.predict``) and ``prediction_table`` (those of every batch as the columns of a file,
laid out with ``seqexp.predictions``). Stateful data and truncated BPTT are the regression task's
(``seqexp.tasks.tbptt``)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from seqexp.data.core.spec import DataSpec, PredictionIndex
from seqexp.lightning_internals import loggers_write_this_step, skip_moves_of_logged_values_already_there
from seqexp.models.encoder import build_encoder
from seqexp.predictions import Columns, PredictionOutputs
from seqexp.tasks.optim import build_optimizer, build_scheduler


class SequenceTask(L.LightningModule):
    """Base of every task: owns the train/val/test steps and the logging of losses and metrics.

    A task adds its head (in ``__init__``), ``forward`` (``encode``, then the head) and these hooks:

    - ``compute_loss(batch, outputs)``: the loss training minimises, logged per batch as ``<stage>/loss``
      on val and test too (unless ``loss_per_epoch``: the task's ``epoch_metrics`` hold it);
    - ``update_metrics(stage, batch, outputs, batch_idx)``: add a batch of ``train``, ``val`` or ``test``
      to the epoch's metrics;
    - ``epoch_metrics(stage)``: the values of the epoch that ended, by logged name, with the task's
      metric state reset (default: those of ``stage_metrics(stage)``);
    - ``clear_epoch(stage)``: forget what an earlier (perhaps interrupted) epoch of ``stage`` collected.
    """

    # Names after "<stage>/" that val and test show on the progress bar.
    progress_bar_metrics: tuple[str, ...] = ()
    # True where <stage>/loss of val and test is computed over the whole epoch by ``epoch_metrics``.
    loss_per_epoch = False
    # True where a case that DDP's sampler repeats does not change the metrics (per-point means of anomaly scores).
    counts_repeated_cases_once = False
    # True where ``epoch_metrics`` are plain numbers that every rank computed alike: averaging them over
    # ranks is a no-op that keeps Lightning from warning about unsynced epoch-level logs under DDP.
    sync_epoch_metrics = False

    def __init__(
        self,
        spec: dict,
        model: dict,
        optim: dict,
        scheduler: dict,
        embedding: dict | None = None,
    ) -> None:
        super().__init__()
        skip_moves_of_logged_values_already_there()  # self.log at a ninth of its cost: logged values stay where they are
        # Plain values only: the checkpoint alone rebuilds the task, and loads weights-only.
        self.save_hyperparameters(logger=False)
        self.spec = DataSpec.from_dict(spec)
        self.input_layer = self._build_input_layer(embedding or {})
        encoder_input_size = self.input_layer.embedding_dim if self.spec.input_kind == "tokens" else self.spec.input_size
        encoder = build_encoder(encoder_input_size, model)
        self.encoder_output_size = encoder.output_size
        self.num_directions = encoder.num_directions
        self.encoder = torch.compile(encoder) if model.get("compile", False) else encoder
        self._train_loss_sum: torch.Tensor | None = None  # losses since train/loss was last logged
        self._train_loss_steps = 0
        self._train_loss_written_in_epoch: int | None = None  # the last epoch whose train/loss reached the loggers
        # The task's torchmetrics, if it keeps them here: per evaluation stage (val, test), and of training
        # ("train" cannot be a ModuleDict key: nn.Module.train is a method).
        self.metrics = nn.ModuleDict()
        self.train_metrics: nn.Module | None = None
        self._checkpoint_epoch: int | None = None  # the epoch of a loaded checkpoint, for figure titles
        self._warned: set[tuple[str, str]] = set()  # (split, cause): each warning once per run

    def _build_input_layer(self, embedding: dict) -> nn.Module:
        if self.spec.input_kind != "tokens":
            return nn.Identity()
        layer = nn.Embedding(self.spec.input_size, embedding["dim"], padding_idx=self.spec.padding_index)
        layer.weight.requires_grad_(not embedding.get("freeze", False))
        return layer

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """What the encoder reads ``(batch, time, features)``: token embeddings, or the features as they are."""
        return self.input_layer(inputs)

    def encode(self, inputs: torch.Tensor, lengths: torch.Tensor | None, stage: str) -> torch.Tensor:
        """Encoder outputs ``(batch, time, encoder_output_size)`` of a batch's ``inputs`` (and ``lengths``
        when padded) of ``stage`` (``TruncatedBPTT`` carries state per stage)."""
        outputs, _ = self.encoder(self.embed(inputs), lengths, None)
        return outputs

    def log_train_loss(self, loss: torch.Tensor) -> None:
        """Log ``train/loss`` (progress bar and loggers) at a fraction of ``self.log``'s cost.

        ``self.log`` costs about as much as a whole training step of a small RNN, so the loss is
        summed on its device every step and the mean since the last call is logged only on the
        steps where Lightning writes to the loggers (every ``trainer.log_every_n_steps``), at the
        last batch of an epoch and at the last step: loggers see the same points as with a
        per-step ``self.log``, each the mean of the steps in between rather than one noisy step.
        An epoch's last batch also reaches the loggers when none of its steps did (epochs shorter than
        ``log_every_n_steps``, e.g. a short series): every epoch leaves a ``train/loss``.

        Chunked batches pass the ``(chunks,)`` losses of their steps at once; Lightning then writes to
        the loggers every ``log_every_n_steps`` batches (its logging step counts batches, not chunks).
        """
        detached = loss.detach()
        total = detached.sum()
        self._train_loss_sum = total if self._train_loss_sum is None else self._train_loss_sum + total
        self._train_loss_steps += detached.numel()
        trainer = self.trainer
        steps_done, batches_done = self.optimizer_steps_done()
        if batches_done % max(trainer.log_every_n_steps, 1) == 0 or trainer.is_last_batch or 0 < trainer.max_steps <= steps_done or trainer.fast_dev_run:
            mean = self._train_loss_sum / self._train_loss_steps
            self.log("train/loss", mean, prog_bar=True)
            if loggers_write_this_step(trainer):
                self._train_loss_written_in_epoch = trainer.current_epoch
            elif trainer.is_last_batch and not trainer.fast_dev_run and self._train_loss_written_in_epoch != trainer.current_epoch:
                for logger in self.loggers:  # at the step Lightning would have used (batches stepped)
                    logger.log_metrics({"train/loss": float(mean)}, step=batches_done - 1)
            self._train_loss_sum, self._train_loss_steps = None, 0

    def optimizer_steps_done(self) -> tuple[int, int]:
        """Optimizer steps and training batches done once this batch is: one step per batch (``TruncatedBPTT``
        steps once per chunk)."""
        steps = self.trainer.global_step + 1
        return steps, steps

    # --- the hooks a task fills in -------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor], outputs: torch.Tensor) -> torch.Tensor:
        """The loss of a batch from ``forward``'s ``outputs``: what training minimises."""
        raise NotImplementedError(f"{type(self).__name__} has no loss")

    def update_metrics(self, stage: str, batch: dict[str, torch.Tensor], outputs: torch.Tensor, batch_idx: int) -> None:
        """Add a batch of ``stage`` (train, val or test) to the epoch's metrics."""

    def epoch_metrics(self, stage: str) -> dict[str, Any]:
        """The metrics of the epoch of ``stage`` that just ended, by logged name (``<stage>/<metric>``),
        and their state reset for the next epoch."""
        metrics = self.stage_metrics(stage)
        if metrics is None:
            return {}
        values = metrics.compute()
        metrics.reset()
        return values

    def _warn_once(self, split: str, cause: str, message: str) -> None:
        """Log ``message`` once per run for this split and cause, from rank zero (every rank holds
        the same figures), and not in the sanity check, which sees only a few batches; under the task's module's logger."""
        if (split, cause) in self._warned or (self._trainer is not None and self.trainer.sanity_checking):
            return
        self._warned.add((split, cause))
        if self.global_rank == 0:
            logging.getLogger(type(self).__module__).warning(message)

    def stage_metrics(self, stage: str) -> nn.Module | None:
        """The task's metric collection for ``stage`` (its names prefixed ``<stage>/``), or None."""
        if stage == "train":
            return self.train_metrics
        return self.metrics[stage] if stage in self.metrics else None

    def clear_epoch(self, stage: str) -> None:
        """Forget what an earlier epoch of ``stage`` collected (an interrupted one leaves some behind)."""

    # --- train/val/test wiring ------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        outputs = self(batch, "train")
        loss = self.compute_loss(batch, outputs)
        self.update_metrics("train", batch, outputs, batch_idx)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def _evaluate(self, batch: dict[str, torch.Tensor], batch_idx: int, stage: str) -> None:
        outputs = self(batch, stage)
        if not self.loss_per_epoch:  # mean over all DDP ranks
            self.log(f"{stage}/loss", self.compute_loss(batch, outputs), batch_size=len(outputs), sync_dist=True)
        self.update_metrics(stage, batch, outputs, batch_idx)

    def _log_epoch_metrics(self, stage: str) -> None:
        values = self.epoch_metrics(stage)
        shown = {f"{stage}/{name}" for name in self.progress_bar_metrics} if stage != "train" else set()
        for prog_bar in (True, False):
            selected = {name: value for name, value in values.items() if (name in shown) == prog_bar}
            if selected:
                self.log_dict(selected, prog_bar=prog_bar, sync_dist=self.sync_epoch_metrics)

    def _start_epoch(self, stage: str) -> None:
        self.clear_epoch(stage)
        if stage != "train" and not self.counts_repeated_cases_once:
            self._warn_of_repeated_cases(stage)

    def _warn_of_repeated_cases(self, stage: str) -> None:
        """Say when Lightning's ``DistributedSampler`` repeats cases of an evaluated split (it pads the split to a
        multiple of the ranks, so every rank runs as many batches): the split's metrics then count those cases twice."""
        loaders = self.trainer.val_dataloaders if stage == "val" else self.trainer.test_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        candidates = (getattr(loader, "sampler", None), getattr(getattr(loader, "batch_sampler", None), "sampler", None))
        sampler = next((candidate for candidate in candidates if isinstance(candidate, DistributedSampler)), None)
        if sampler is not None and not sampler.drop_last and (repeated := sampler.total_size - len(sampler.dataset)):
            self._warn_once(
                stage,
                "repeated cases",
                f"the {stage} split's {len(sampler.dataset)} cases do not divide among {sampler.num_replicas} ranks: Lightning's "
                f"DistributedSampler repeats {repeated} of them, and {stage}/* count those twice. For exact figures, evaluate on "
                f"one device: python -m seqexp.eval ckpt_path=<checkpoint> trainer.devices=1",
            )

    def on_train_epoch_start(self) -> None:
        self._start_epoch("train")

    def on_validation_epoch_start(self) -> None:
        self._start_epoch("val")

    def on_test_epoch_start(self) -> None:
        self._start_epoch("test")

    def on_train_epoch_end(self) -> None:
        # Once per epoch: self.log of a Metric object in every step costs Lightning about a millisecond each.
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._checkpoint_epoch = checkpoint.get("epoch")

    def on_fit_start(self) -> None:
        # Called after a resumed fit restores its checkpoint: from here on the weights are this fit's own.
        self._checkpoint_epoch = None

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.parameters(), self.hparams.optim)
        max_epochs = self.trainer.max_epochs if self.trainer is not None and self.trainer.max_epochs > 0 else 1
        schedule = build_scheduler(optimizer, self.hparams.scheduler, max_epochs)
        return optimizer if schedule is None else {"optimizer": optimizer, "lr_scheduler": schedule}

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        """Matplotlib figures for TensorBoard, by tag; ``FigureLogger`` calls this on rank 0 with the split's
        ``index`` (steps, time stamps, names and values as the split's prediction file shows them)."""
        return {}

    def figure_title(self, stage: str, subject: str) -> str:
        """``<stage>: <subject>, epoch <n>``, with n the epoch the weights are from: a loaded checkpoint's
        own epoch (``trainer.test(ckpt_path=...)``, ``seqexp.eval``), else the trainer's current epoch."""
        epoch = self._checkpoint_epoch if self._checkpoint_epoch is not None else self.current_epoch
        return f"{stage}: {subject}, epoch {epoch}"

    # --- prediction: trainer.predict, then one row per prediction (seqexp.predictions writes them) --
    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        """One batch's predictions in the data's units, dim 0 over its windows or cases, on the CPU
        (the prediction writer hands each batch's to ``prediction_outputs`` as it comes)."""
        return {name: value.detach().cpu() for name, value in self.predict_batch(batch).items()}

    def prediction_outputs(self) -> PredictionOutputs:
        """What collects ``predict_step``'s outputs batch by batch for ``prediction_table`` (default: all of them)."""
        return PredictionOutputs()

    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What ``predict_step`` returns, before it goes to the CPU (each task says what it predicts)."""
        raise NotImplementedError(f"{type(self).__name__} does not predict")

    def prediction_table(self, outputs: Any, index: PredictionIndex) -> Columns:
        """The columns of a prediction file from what ``prediction_outputs`` collected (by default
        ``predict_step``'s outputs of every batch, concatenated in the data's order); ``index`` (from the
        DataModule) names the rows."""
        raise NotImplementedError(f"{type(self).__name__} does not predict")
