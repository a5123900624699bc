"""A run's parts from its config: validate, seed, then DataModule, task and Trainer with its callbacks.

``seqexp.train`` runs what this builds; ``scripts/benchmark.py`` and the tests time and inspect it.
"""

from __future__ import annotations

import logging
import shlex
import warnings
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import EarlyStopping, ProgressBar
from omegaconf import DictConfig

from seqexp.callbacks import FigureLogger, MonitoredMetricCheck, ResumeHint, ValidationHistory
from seqexp.config import ConfigError, callbacks_without_validation, hydra_runtime, instantiate_group, override_key, validate_config
from seqexp.data.core.budget import TRAINER_KEYS as BUDGET_KEYS
from seqexp.data.core.contract import SeqDataModule
from seqexp.distributed import in_multirun
from seqexp.predictions import PredictionFileWriter
from seqexp.profiler import NoProfiler
from seqexp.safety import check_checkpoint_fits, preflight
from seqexp.sweep import search_callbacks

log = logging.getLogger(__name__)


def build(cfg: DictConfig) -> tuple[SeqDataModule, L.LightningModule, L.Trainer]:
    """Validate, seed and instantiate a run's parts."""
    validate_config(cfg)
    preflight(cfg)  # ckpt_path and output folders, before anything is built
    L.seed_everything(cfg.seed, workers=True)
    datamodule: SeqDataModule = instantiate(cfg.data)
    # The task's sizes come from the data: read it now, as Lightning's docs do for a model sized by its DataModule.
    # Every rank runs this (DDP re-runs the command); the Trainer's own setup calls later keep what was read here.
    datamodule.prepare_data()
    datamodule.setup("fit" if cfg.train else "test")
    task: L.LightningModule = instantiate(  # optim and scheduler reach the task as plain dicts (it builds them)
        cfg.task,
        spec=datamodule.spec.to_dict(),
        model=cfg.model,
        optim=cfg.optim,
        scheduler=cfg.scheduler,
        _convert_="all",
        _recursive_=False,
    )
    if cfg.train and cfg.ckpt_path is not None and Path(cfg.ckpt_path).is_file():  # resume or fine-tune
        check_checkpoint_fits(task, cfg.ckpt_path)
    has_validation = datamodule.has_validation  # False: nothing for checkpoint/early stopping to monitor
    if not has_validation and str(cfg.scheduler.get("monitor") or "").startswith("val/"):
        raise ConfigError(
            f"scheduler={hydra_runtime(cfg)[1].get('scheduler', cfg.scheduler.get('_target_'))} follows scheduler.monitor={cfg.scheduler.monitor}, but the data has no "
            "validation split (data.val_fraction=0): set data.val_fraction > 0, scheduler.monitor=train/loss, "
            "or another scheduler"
        )
    callbacks = instantiate_group(cfg.get("callbacks") if has_validation else callbacks_without_validation(cfg.get("callbacks")))
    if not cfg.trainer.get("enable_progress_bar", True):  # one switch for the bar: no need to also null the callback
        callbacks = [callback for callback in callbacks if not isinstance(callback, ProgressBar)]
    if cfg.train:  # on Ctrl-C: the command that resumes from last.ckpt
        callbacks.append(ResumeHint(resume_command(cfg), Path(cfg.paths.checkpoint_dir, "last.ckpt")))
    callbacks.append(ValidationHistory())  # metrics.json reports the val/* figures of the tested weights
    if has_validation and cfg.train:  # an unknown monitor.metric fails after the sanity check, not after an epoch
        callbacks.append(MonitoredMetricCheck(cfg.monitor.metric))
    if has_validation and cfg.train:  # a job of an Optuna search: each validation reported to its trial, which may be pruned
        callbacks += search_callbacks(cfg)
    if cfg.test and cfg.predictions.write_test:  # writes when train() calls trainer.predict, after test
        callbacks.append(
            PredictionFileWriter(
                Path(cfg.paths.output_dir, "predictions", "test.csv"), cfg.predictions.max_rows, keys=("paths.output_dir", "predictions.max_rows")
            )
        )
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=instantiate_group(cfg.get("logger")) or False,
        profiler=cfg.trainer.get("profiler") or NoProfiler(),
        **({} if has_validation else {"limit_val_batches": 0}),
        **chunked_training(cfg, task),
        **data_budget(cfg, datamodule, callbacks),
    )
    return datamodule, task, trainer


def data_budget(cfg: DictConfig, datamodule: SeqDataModule, callbacks: list) -> dict:
    """Trainer length sized by the data (``data.budget``, see ``seqexp.data.core.budget``), and the ``callbacks`` that count
    epochs (early stopping's patience, the figures' spacing) to match. A Trainer key of the budget typed
    (``trainer.max_epochs=50``) or a ``debug=`` option wins over the whole budget; a typed callback key over its own."""
    budget = datamodule.training_budget(cfg.trainer.get("accumulate_grad_batches", 1))
    if budget is None:
        return {}
    overrides, choices = hydra_runtime(cfg)
    typed = {override_key(item) for item in overrides}
    trainer_keys = [f"trainer.{name}" for name in BUDGET_KEYS if f"trainer.{name}" in typed]
    if trainer_keys or choices.get("debug"):
        log.info("training budget: data.budget gives way to %s", ", ".join(trainer_keys) or f"debug={choices['debug']}")
        return {}
    settings, callback_settings = budget
    applied = [f"trainer.{key}={value}" for key, value in settings.items()]
    for key, value in callback_settings.items():  # "early_stopping.patience": the callback's name in callbacks, its attribute
        name, attribute = key.split(".")
        kind = {"early_stopping": EarlyStopping, "figures": FigureLogger}[name]
        for callback in [callback for callback in callbacks if isinstance(callback, kind)][:1]:
            if f"callbacks.{key}" not in typed:
                setattr(callback, attribute, value)
            applied.append(f"callbacks.{key}={getattr(callback, attribute)}")
    log.info("training budget (data.budget): %s", ", ".join(applied))
    return settings


def resume_command(cfg: DictConfig) -> str:
    """``python -m seqexp.train`` with the overrides this run was started with, less any ``ckpt_path``. A job of a
    sweep resumes as one run, in its folder: ``hydra.mode=RUN``, since an ``hparams_search`` option sets MULTIRUN and
    the command would then start a new search instead (a search's job resumed so, stopped again, says the same)."""
    overrides, choices = hydra_runtime(cfg)
    overrides = [item for item in overrides if override_key(item) != "ckpt_path"]
    one_run = ["hydra.mode=RUN"] if in_multirun() or choices.get("hparams_search") else []
    return shlex.join(["python", "-m", "seqexp.train", *overrides, *one_run])


def chunked_training(cfg: DictConfig, task: L.LightningModule) -> dict:
    """Trainer settings to replace when the data serves chunked batches (``data.chunks_per_batch`` > 1): the
    task then optimizes manually, one step per chunk, and Lightning refuses the Trainer's gradient clipping
    under manual optimization, so the task gets the clip settings (it clips each chunk the same way) and the
    Trainer's are cleared. Refuses what cannot work in chunks, naming the keys."""
    chunks = task.spec.chunks_per_batch
    if chunks == 1:
        return {}
    if cfg.trainer.get("accumulate_grad_batches", 1) != 1:
        raise ConfigError(
            f"data.chunks_per_batch={chunks} takes one optimizer step per chunk: it cannot be combined "
            f"with trainer.accumulate_grad_batches={cfg.trainer.accumulate_grad_batches} (set it to 1)"
        )
    if cfg.trainer.get("max_steps", -1) > 0 and cfg.trainer.max_steps % chunks:  # Lightning stops only at a batch end
        raise ConfigError(f"data.chunks_per_batch={chunks} must divide trainer.max_steps={cfg.trainer.max_steps}")
    for name, callback in (cfg.get("callbacks") or {}).items():
        every = (callback or {}).get("every_n_train_steps") or 0
        if every % chunks:  # a checkpoint fires at a batch end where global_step % N == 0: steps advance by K per batch
            raise ConfigError(f"data.chunks_per_batch={chunks} must divide callbacks.{name}.every_n_train_steps={every}")
    task.gradient_clipping = (cfg.trainer.get("gradient_clip_val"), cfg.trainer.get("gradient_clip_algorithm", "norm"))
    # ModelCheckpoint(every_n_train_steps) warns under manual optimization that it saves the weights after the
    # step: as it does under automatic optimization, and what last.ckpt should hold.
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    return {"gradient_clip_val": None}
