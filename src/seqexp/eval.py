"""Eval recipe: rebuild data and task from a checkpoint's run folder, then test.

    python -m seqexp.eval ckpt_path=outputs/<date>/<time>/checkpoints/last.ckpt
    python -m seqexp.eval ckpt_path=... +data.path=other.csv     # the run's data keys, but this file

``data.*`` overrides replace the run's data keys; model and task keys are refused (the weights fix them). The run's
data and task config, overrides applied, goes through the config pass (``seqexp.config.validate_config``) before
torch and Lightning are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hydra
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.config import ConfigError, instantiate_group, validate_config
from seqexp.console import announce, quiet_library_noise, route_lightning_logs, user_errors_are_short
from seqexp.run_config import data_overrides, run_config
from seqexp.safety import check_checkpoint, check_checkpoint_file
from seqexp.sweep import exits_143_on_sigterm

if TYPE_CHECKING:
    from seqexp.data.core.contract import SeqDataModule

SPLITS = ("val", "test")  # what split= may evaluate


def evaluate(cfg: DictConfig) -> dict[str, float]:
    quiet_library_noise()
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r}: must be one of {SPLITS}")
    overrides = data_overrides(cfg, "eval")  # model.*/task.*: refused before anything is loaded
    ckpt_path = check_checkpoint_file(cfg.ckpt_path, "ckpt_path")  # exists and is whole
    run_cfg = run_config(ckpt_path, overrides)
    validate_config(OmegaConf.masked_copy(run_cfg, ["data", "task"]))  # the run's data and task, overrides applied
    import lightning as L  # noqa: PLC0415 - once the config holds

    from seqexp.callbacks.preemption import StopOnSigterm  # noqa: PLC0415
    from seqexp.reporting import log_final_metrics, scalar_metrics, write_metrics_file  # noqa: PLC0415

    route_lightning_logs()
    announce(f"Run folder: {cfg.paths.output_dir}")
    check_checkpoint(ckpt_path, "ckpt_path", resume=False)  # weights-only loadable
    L.seed_everything(run_cfg.seed, workers=True)
    datamodule: SeqDataModule = instantiate(run_cfg.data)
    if cfg.split == "val" and not datamodule.has_validation:
        raise ConfigError("split=val: the run has no validation split (data.val_fraction=0); evaluate split=test")
    task = get_class(run_cfg.task._target_).load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=instantiate_group(cfg.get("logger")) or False, callbacks=[StopOnSigterm()])
    run = trainer.validate if cfg.split == "val" else trainer.test
    run(task, datamodule=datamodule, ckpt_path=str(ckpt_path))
    metrics = scalar_metrics(trainer.callback_metrics)
    write_metrics_file(
        cfg.paths.metrics_file, {"status": "completed", "ckpt_path": str(ckpt_path), "metrics": metrics, "data_ranges": datamodule.data_ranges()}
    )  # the rows evaluated, as train writes them
    log_final_metrics(metrics)
    announce(f"Run folder: {cfg.paths.output_dir} (metrics.json, eval.log)")
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@user_errors_are_short
@exits_143_on_sigterm
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
