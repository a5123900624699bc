"""The private Lightning names seqexp uses (seqexp.lightning_internals) still mean what they did.

When one of these fails after a Lightning upgrade, update seqexp/lightning_internals.py: nowhere
else imports a private Lightning name.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultCollection
from torch.utils.data import DataLoader

from seqexp.lightning_internals import (
    PRECISIONS,
    forget_predicted_batch_indices,
    skip_moves_of_logged_values_already_there,
    starts_rank_processes,
)


def test_precision_values_are_lightnings_accepted_strings() -> None:
    assert {"32-true", "16-mixed", "bf16-mixed", "64-true"} <= set(PRECISIONS)
    for value in PRECISIONS:  # every listed value builds a Trainer
        if str(value).startswith(("16", "bf16", "transformer-engine")) or value in ("half", "bf16", 16):
            continue  # mixed/half precisions need a GPU or an extra package on CPU
        L.Trainer(accelerator="cpu", devices=1, precision=value, logger=False, enable_checkpointing=False)


def test_the_subprocess_launcher_is_what_ddp_on_cpu_uses_and_one_device_is_not() -> None:
    ddp = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False)
    single = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    assert starts_rank_processes(ddp) and not starts_rank_processes(single)


class Doubler(L.LightningModule):
    def predict_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return batch * 2


class ForgettingWriter(BasePredictionWriter):
    """Takes each batch's sample indices, then has Lightning forget them; records what Lightning still holds."""

    def __init__(self) -> None:
        super().__init__(write_interval="batch")
        self.seen: list[list[int]] = []
        self.held: list = []

    def write_on_batch_end(self, trainer, module, prediction, batch_indices, batch, batch_idx, dataloader_idx) -> None:
        self.seen.append(list(batch_indices))
        forget_predicted_batch_indices(trainer, dataloader_idx, batch_idx)

    def on_predict_epoch_end(self, trainer, module) -> None:
        self.held = list(trainer.predict_dataloaders.batch_sampler.seen_batch_indices)


def test_lightning_keeps_predicted_batch_indices_where_seqexp_forgets_them() -> None:
    writer = ForgettingWriter()
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[writer])
    trainer.predict(Doubler(), DataLoader(torch.arange(10.0), batch_size=4), return_predictions=False)
    assert writer.seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # every batch's indices reached the writer
    assert writer.held == [None, None, None]  # and Lightning's list no longer holds them


def test_logged_value_accumulators_move_only_when_a_tensor_is_elsewhere() -> None:
    skip_moves_of_logged_values_already_there()
    results = _ResultCollection(training=True)
    for value, batch_size in ((1.0, 2), (4.0, 6)):
        results.log("training_step", "loss", torch.tensor(value), on_step=False, on_epoch=True, batch_size=batch_size)
    accumulator = results["training_step.loss"]
    assert accumulator.compute().item() == (1.0 * 2 + 4.0 * 6) / 8  # the batch-size-weighted mean, as before
    value = accumulator.value
    assert accumulator.to(torch.device("cpu")) is accumulator and accumulator.value is value  # there already: untouched
    accumulator.to(torch.device("meta"))  # another device: Lightning's move, every tensor
    assert accumulator.value.device.type == accumulator.cumulated_batch_size.device.type == "meta"
    assert {tensor.device.type for tensor in accumulator._defaults.values()} == {"meta"}
    accumulator._computed = torch.zeros(1)  # one tensor elsewhere (on the CPU): moved too
    accumulator.to(torch.device("meta"))
    assert accumulator._computed.device.type == "meta"
