"""The private Lightning names seqexp relies on, in one place.

Lightning has no public equivalent for any of them. tests/test_lightning_internals.py checks each one
against the installed Lightning, so an upgrade that renames or changes them fails there, by name,
instead of somewhere deep in a run.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

import lightning as L
import torch
from lightning.fabric.connector import _PRECISION_INPUT
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping, ModelCheckpoint
from lightning.pytorch.overrides.distributed import _IndexBatchSamplerWrapper
from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher
from lightning.pytorch.trainer import call
from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric
from torch import Tensor

# Every precision value the Trainer accepts: Lightning's own Literal, so the list follows Lightning.
PRECISIONS: list[str | int] = [value for literal in get_args(_PRECISION_INPUT) for value in get_args(literal)]


def starts_rank_processes(trainer: L.Trainer) -> bool:
    """True when ``fit`` will start ranks 1..N-1 by re-running the command line (not under torchrun or SLURM)."""
    return isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher)


def full_checkpoint_saved_at(callback: ModelCheckpoint, global_step: int) -> str | None:
    """The local file ``callback`` saved at ``global_step`` holding the whole training state (not weights only), or None."""
    path = callback._last_checkpoint_saved
    if callback._last_global_step_saved != global_step or not path or callback.save_weights_only or "://" in path:
        return None
    return path


def loggers_write_this_step(trainer: L.Trainer) -> bool:
    """True when Lightning writes this training step's ``self.log`` values to the loggers (every
    ``trainer.log_every_n_steps`` batches, counted across epochs)."""
    return trainer._logger_connector.should_update_logs


def forget_predicted_batch_indices(trainer: L.Trainer, dataloader_idx: int, batch_idx: int) -> None:
    """Drop what Lightning keeps of a predicted batch's sample indices once a writer has them: the batch
    sampler it wraps prediction loaders in (``_IndexBatchSamplerWrapper``) holds every batch's list of
    Python ints until predict ends, O(samples) objects however little the writer keeps. The entry becomes
    None, not removed: Lightning looks batches up there by ``batch_idx``, but only the current one's."""
    loaders = trainer.predict_dataloaders
    loader = loaders[dataloader_idx] if isinstance(loaders, (list, tuple)) else loaders
    sampler = getattr(loader, "batch_sampler", None)
    if isinstance(sampler, _IndexBatchSamplerWrapper) and batch_idx < len(sampler.seen_batch_indices):
        sampler.seen_batch_indices[batch_idx] = None


_dispatch_log = logging.getLogger(call.__name__)


def skip_no_op_callback_hooks(profiler_type: type) -> None:
    """Make Lightning's callback dispatch (``call._call_callback_hooks``, which every loop calls) skip the hooks
    a callback leaves as ``Callback``'s no-ops, in trainers whose profiler is a ``profiler_type`` (one that
    records nothing); a trainer with any other profiler gets Lightning's own function. Lightning calls every
    callback for every hook, three to eight per training step, and labels each call for the profiler with the
    callback's ``state_key`` (a microsecond for ``ModelCheckpoint``): about 1 µs per callback per hook, 3 % of
    the seed model's step with its 13 callbacks. The callbacks that override a hook are called in Lightning's order,
    with the same arguments and ``_current_fx_name`` set as Lightning sets it. Installing again does nothing."""
    lightnings = call._call_callback_hooks
    if getattr(lightnings, "skips_no_ops_under", None) is not None:
        return

    def call_overridden_callback_hooks(trainer: L.Trainer, hook_name: str, *args: Any, monitoring_callbacks: bool | None = None, **kwargs: Any) -> None:
        if not isinstance(trainer.profiler, profiler_type):
            return lightnings(trainer, hook_name, *args, monitoring_callbacks=monitoring_callbacks, **kwargs)
        if _dispatch_log.isEnabledFor(logging.DEBUG):
            _dispatch_log.debug(f"{trainer.__class__.__name__}: calling callback hook: {hook_name}")
        pl_module = trainer.lightning_module
        if pl_module:
            caller = pl_module._current_fx_name
            pl_module._current_fx_name = hook_name
        no_op = getattr(Callback, hook_name, None)
        for callback in trainer.callbacks:
            if monitoring_callbacks is not None and isinstance(callback, (EarlyStopping, Checkpoint)) is not monitoring_callbacks:
                continue  # Lightning's split: the monitoring callbacks (early stopping, checkpoints) or the others
            fn = getattr(callback, hook_name)
            if getattr(fn, "__func__", None) is not no_op and callable(fn):
                fn(trainer, trainer.lightning_module, *args, **kwargs)
        if pl_module:
            pl_module._current_fx_name = caller

    call_overridden_callback_hooks.skips_no_ops_under = profiler_type  # type: ignore[attr-defined]
    call._call_callback_hooks = call_overridden_callback_hooks


def skip_moves_of_logged_values_already_there() -> None:
    """Make ``self.log`` skip moving a logged value's accumulator to the value's device when every tensor it holds
    is on that device already. Lightning calls ``_ResultMetric.to(value.device)`` on every ``self.log``, and it
    rebuilds the accumulator's whole ``__dict__`` (an ``nn.Module`` of some fifty attributes, its metadata
    deep-copied): 130 µs of the 185 µs a ``self.log`` costs on a CPU, several times per validation of a default
    run. Accumulators of ``Metric`` objects, and any with a tensor elsewhere, still move as Lightning moves them.
    Installing again does nothing."""
    lightnings = _ResultMetric.to
    if getattr(lightnings, "skips_moves_in_place", False):
        return

    def to(self: _ResultMetric, *args: Any, **kwargs: Any) -> _ResultMetric:
        if self.is_tensor and not kwargs and len(args) == 1 and isinstance(args[0], torch.device) and _all_tensors_on(self, args[0]):
            return self
        return lightnings(self, *args, **kwargs)

    to.skips_moves_in_place = True  # type: ignore[attr-defined]
    _ResultMetric.to = to  # type: ignore[method-assign]


def _all_tensors_on(metric: _ResultMetric, device: torch.device) -> bool:
    """Whether every tensor ``_ResultMetric.to`` would move (its attributes, state defaults and sync cache) is on ``device``."""
    tensors = [value for value in metric.__dict__.values() if isinstance(value, Tensor)]
    tensors += [*metric._defaults.values(), *(metric._cache or {}).values()]
    return all(isinstance(tensor, Tensor) and tensor.device == device for tensor in tensors)
