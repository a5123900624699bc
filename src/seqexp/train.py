"""Train recipe: compose -> validate -> instantiate -> fit -> test -> report.

python -m seqexp.train model=lstm data=sine
python -m seqexp.train -m model=rnn,lstm,gru
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seqexp.config import hydra_runtime, plain, validate_config
from seqexp.console import announce, folder_listing, quiet_library_noise, route_lightning_logs, user_errors_are_short
from seqexp.distributed import prepare_ranks
from seqexp.run_config import keep_data_paths_absolute
from seqexp.sweep import run_job


def checkpoint_to_resume(cfg: DictConfig) -> str | None:
    """``cfg.ckpt_path``, with ``last`` read as the run's own ``last.ckpt`` or, when there is none yet, a fresh start
    said in one line (Lightning's warning there suggests a ``save_last`` setting seqexp does not use). Resuming into
    the run's own folder, its checkpoint folder holds files by design: Lightning's warning about that is left out."""
    if cfg.ckpt_path is None:
        return None
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    if cfg.ckpt_path != "last":
        return str(cfg.ckpt_path)
    last = Path(cfg.paths.checkpoint_dir, "last.ckpt")
    if last.is_file():
        return str(last)
    announce(f"ckpt_path=last: no {last} yet, so training starts fresh")
    return None


def train(cfg: DictConfig) -> float | None:
    """Run one experiment; return the value of ``monitor.metric`` for sweepers to optimise."""
    quiet_library_noise()
    validate_config(cfg)  # a config mistake is answered here, most of them before torch and Lightning are imported
    from seqexp.builder import build  # noqa: PLC0415 - torch and Lightning, once the config holds
    from seqexp.reporting import (  # noqa: PLC0415
        baselines_skipped,
        best_checkpoint_summary,
        flat_hparams,
        log_baseline_verdict,
        log_final_metrics,
        log_hparams,
        scalar_metrics,
        tested_weights_validation,
        write_metrics_file,
    )

    route_lightning_logs()
    announce(f"Run folder: {cfg.paths.output_dir}")
    keep_data_paths_absolute(cfg)  # here and in <run>/.hydra/config.yaml: eval and predict work from any folder
    datamodule, task, trainer = build(cfg)
    prepare_ranks(trainer, datamodule.spec)  # DDP: refuse stateful data; ranks of a sweep job run that job

    started = time.perf_counter()
    if cfg.train:
        trainer.fit(task, datamodule=datamodule, ckpt_path=checkpoint_to_resume(cfg), weights_only=True)
    fit_metrics = scalar_metrics(trainer.callback_metrics)
    best = best_checkpoint_summary(trainer)
    if cfg.test:
        trainer.test(task, datamodule=datamodule, ckpt_path=best["best_model_path"], verbose=True)
    validation, validation_source = tested_weights_validation(trainer, best)  # not the last epoch's, when it was not tested
    metrics = {**{name: value for name, value in fit_metrics.items() if not name.startswith("val/")}, **validation, **scalar_metrics(trainer.callback_metrics)}
    if cfg.test and cfg.predictions.write_test:  # the test split again, through predict_step: <run>/predictions/test.csv
        trainer.predict(task, datamodule=datamodule, ckpt_path=best["best_model_path"], weights_only=True, return_predictions=False)
    objective = best["best_score"] if best["best_score"] is not None else metrics.get(cfg.monitor.metric)

    write_metrics_file(
        cfg.paths.metrics_file,
        {
            "status": "completed",
            "metrics": metrics,
            "monitor": cfg.monitor.metric,
            "objective": objective,
            "val_metrics_from": validation_source,
            "data_ranges": datamodule.data_ranges(),  # rows of train/val/test (a backtest fold's), where the data has them
            "baselines_skipped": baselines_skipped(trainer),  # why a baseline has no baseline/<name>/* figures in metrics
            **best,
            "epochs": trainer.current_epoch,
            "global_step": trainer.global_step,
            "world_size": trainer.world_size,
            "wall_time_s": round(time.perf_counter() - started, 3),
        },
    )
    sections = {name: plain(cfg[name]) for name in ("data", "model", "optim", "scheduler", "task")}
    log_hparams(trainer, flat_hparams({"choice": hydra_runtime(cfg)[1], **sections, "seed": cfg.seed}))
    log_final_metrics(metrics, validation_source)
    log_baseline_verdict(trainer, metrics, cfg.monitor.metric, cfg.monitor.mode)  # one line: model vs baselines on val
    announce(f"Run folder: {cfg.paths.output_dir} ({folder_listing(cfg.paths.output_dir)})")
    return objective


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors_are_short
def main(cfg: DictConfig) -> float | None:
    return run_job(train, cfg)  # in a multirun, a failing job is recorded and the sweep goes on


if __name__ == "__main__":
    main()
