"""Predict recipe: a checkpoint's predictions, one row each, in the data's own units.

    python -m seqexp.predict ckpt_path=<run>/checkpoints/last.ckpt output_file=test.csv    # its test split
    python -m seqexp.predict ckpt_path=... data.path=new.csv output_file=new.csv            # series, anomaly
    python -m seqexp.predict ckpt_path=... data.test_path=new.ts output_file=new.csv        # UCR
    python -m seqexp.predict ckpt_path=... 'text="a gripping, funny film"'                  # texts: printed
    python -m seqexp.predict ckpt_path=... file=reviews.txt output_file=labels.jsonl
    python -m seqexp.predict ckpt_path=model.onnx output_file=test.csv                       # a seqexp.export file

Data and model are rebuilt from the run's saved config, as ``seqexp.eval`` does; texts need the
checkpoint alone (it holds the vocabulary and the label names). What the data takes as new input is
what its DataModule declares (``seqexp.data.core.contract.SeqDataModule``): a file where ``predicts_new_input``,
texts where the model's inputs are tokens (``DataSpec.input_kind``). Lightning predicts
(``trainer.predict`` over the task's ``predict_step``); ``seqexp.predictions`` writes the rows. A model file
written by ``seqexp.export`` (.onnx, .pt) carries the run's config and the data's saved state itself; its
forward pass takes the place of the task's (``seqexp.exported``), the rest is the same code.

Whether a checkpoint labels texts is read from its run's saved config (the data class, from the source), and that
config, overrides applied, goes through the config pass before torch and Lightning are imported; only a
checkpoint without its run folder is read first to tell.
"""

from __future__ import annotations

import logging
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.config import ConfigError, validate_config
from seqexp.console import quiet_library_noise, route_lightning_logs, user_errors_are_short
from seqexp.run_config import data_overrides, run_config, saved_config
from seqexp.safety import check_checkpoint, check_checkpoint_file, is_exported
from seqexp.signatures import Unread, derives_from
from seqexp.sweep import exits_143_on_sigterm

if TYPE_CHECKING:
    import lightning as L

    from seqexp.data.core.contract import SeqDataModule
    from seqexp.exported import ExportedModel
    from seqexp.predictions import Columns

log = logging.getLogger(__name__)

NEW_INPUT_KEYS = ("file", "data.path", "data.test_path")
NEW_DATA_KEYS = tuple(key.split(".", 1)[1] for key in NEW_INPUT_KEYS if key.startswith("data."))  # not the run's data keys
TEXT_DATA = "seqexp.data.text.TextDataModule"  # a run of this data (or a subclass) labels texts


def with_defaults(cfg: DictConfig) -> DictConfig:
    """``cfg`` over conf/predict.yaml's values, so that a call from Python may set only what it needs."""
    defaults = OmegaConf.load(Path(str(resources.files("seqexp.conf").joinpath("predict.yaml"))))
    for key in ("defaults", "hydra"):
        defaults.pop(key)
    return OmegaConf.merge(defaults, cfg)


def read_texts(cfg: DictConfig) -> list[str]:
    """``text`` (one string or a list) and/or ``file`` (one text per line, blank lines skipped: the log says how
    many, since a prediction's ``id`` then counts the texts, not the file's lines)."""
    texts = [] if cfg.text is None else [cfg.text] if isinstance(cfg.text, str) else list(cfg.text)
    if cfg.file is not None:
        path = Path(cfg.file)
        if not path.is_file():
            raise ConfigError(f"file={cfg.file}: no such file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise ConfigError(f"file={cfg.file}: not valid UTF-8 at byte {error.start}") from None
        given = [line for line in lines if line.strip()]
        if blank := len(lines) - len(given):
            log.info(
                "file=%s: skipped %d blank line%s; id counts the texts predicted (from 0), not the file's lines", cfg.file, blank, "s" if blank > 1 else ""
            )
        texts += given
    if not texts:
        raise ConfigError('nothing to predict: give text="..." or file=<one text per line>')
    return texts


def new_input(cfg: DictConfig) -> tuple[str, str] | None:
    """``(key, path)`` of the new input file, if one is given."""
    given = [(key, value) for key in NEW_INPUT_KEYS if (value := OmegaConf.select(cfg, key)) is not None]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(f'{key}={value}' for key, value in given)}: give one input file")
    return given[0] if given else None


def takes_texts(hyper_parameters: dict[str, Any]) -> bool:
    """Whether a model with these saved hyperparameters labels texts: its inputs are tokens (the spec its data
    declared), read with the vocabulary its checkpoint holds."""
    return (hyper_parameters.get("spec") or {}).get("input_kind") == "tokens"


def run_is_text(ckpt_path: Path) -> bool | None:
    """Whether the run's saved config beside the checkpoint names text data, read from the source, not from the
    checkpoint (torch is not imported yet); ``None`` when there is no run config or its data class is not
    seqexp's: then the checkpoint tells."""
    try:
        return derives_from(saved_config(ckpt_path)[0].data._target_, TEXT_DATA)
    except (ConfigError, Unread):
        return None


def texts_given(cfg: DictConfig, text_model: bool) -> bool:
    """Whether ``cfg`` asks to label texts (``text=``, or ``file=`` for a text model) rather than data of the run."""
    return cfg.text is not None or (text_model and cfg.file is not None)


def check_something_to_predict(cfg: DictConfig, text_model: bool) -> None:
    """Refuse a call that neither gives texts nor names a file to write, before any data is read."""
    if cfg.output_file is None and not texts_given(cfg, text_model):  # nothing to print
        texts_hint = 'give text="..." or file=<one text per line>, or ' if text_model else "give "
        raise ConfigError(f"nothing to predict: {texts_hint}output_file=<file> (.csv, .parquet or .jsonl) to write predictions to")


def checked_run_config(ckpt_path: Path, overrides: dict[str, Any], exported: ExportedModel | None = None) -> DictConfig:
    """The run's config with ``overrides`` applied, through the config pass (its data and task)."""
    saved = OmegaConf.create(exported.run_config) if exported is not None else None
    run_cfg = run_config(ckpt_path, overrides, own_data_keys=NEW_DATA_KEYS, saved=saved)
    validate_config(OmegaConf.masked_copy(run_cfg, ["data", "task"]))  # the run's data and task, overrides applied
    return run_cfg


def build(
    cfg: DictConfig, ckpt_path: Path, text_model: bool, overrides: dict[str, Any], exported: ExportedModel | None = None, run_cfg: DictConfig | None = None
) -> tuple[type[L.LightningModule], SeqDataModule]:
    """The task class and the DataModule that serves what to predict (``overrides``: the run's data keys to replace;
    ``exported``: the model file ``ckpt_path`` names, which carries the run's config; ``run_cfg``: the run's config
    already checked)."""
    import lightning as L  # noqa: PLC0415 - once the config holds

    from seqexp.data.text import TextDataModule  # noqa: PLC0415
    from seqexp.tasks.classification import ClassificationTask  # noqa: PLC0415

    route_lightning_logs()

    if texts_given(cfg, text_model):
        if not text_model:
            raise ConfigError(
                f"text=: {ckpt_path} is not a text model (data=text or data=text_csv); give it "
                f"{' or '.join(f'{key}=' for key in NEW_INPUT_KEYS)}, or no input for its test split"
            )
        if overrides:
            raise ConfigError(
                f"{', '.join(overrides)}: texts given as text=/file= are read with the checkpoint's own vocabulary "
                "and labels; data keys apply to its test split only"
            )
        datamodule = TextDataModule(batch_size=cfg.batch_size)  # vocabulary and labels: restored from the checkpoint
        datamodule.set_predict_input(read_texts(cfg))
        return ClassificationTask, datamodule
    run_cfg = run_cfg if run_cfg is not None else checked_run_config(ckpt_path, overrides, exported)
    L.seed_everything(run_cfg.seed, workers=True)  # data generated from the seed comes out as in training
    datamodule: SeqDataModule = instantiate(run_cfg.data)
    source = new_input(cfg)
    if source is not None:
        key, path = source
        if text_model or not datamodule.predicts_new_input:
            takes = 'text="..." or file=<one text per line>' if text_model else "no new input: leave it out for its test split"
            raise ConfigError(f"{key}={path}: this checkpoint's data ({run_cfg.data._target_}) takes {takes}")
        datamodule.set_predict_input(path)
    return get_class(run_cfg.task._target_), datamodule


def predict(cfg: DictConfig) -> Columns:
    """Predict and write ``output_file`` (the log says where); return the prediction table
    (``seqexp.predictions.records`` makes its rows as JSON lines hold them: built only when asked for, since a long
    series' millions of rows as Python objects cost more time and memory than predicting them).
    Labelled texts are also printed, one per line: label, class probabilities, text; those of a ``file`` written to
    ``output_file`` as a count per label instead (a long file would flood the console with rows the file holds)."""
    cfg = with_defaults(cfg)
    quiet_library_noise()
    overrides = data_overrides(cfg, "predict", own_data_keys=NEW_DATA_KEYS)  # model.*/task.*: refused here
    ckpt_path = Path(cfg.ckpt_path)
    text_config = None if is_exported(ckpt_path) else run_is_text(check_checkpoint_file(ckpt_path, "ckpt_path"))
    run_cfg = None  # the run's config, checked before torch is imported when the run folder holds it
    if text_config is not None:
        check_something_to_predict(cfg, text_config)
        if not texts_given(cfg, text_config):
            run_cfg = checked_run_config(ckpt_path, overrides)

    from seqexp.callbacks.preemption import StopOnSigterm  # noqa: PLC0415
    from seqexp.exported import ExportedModel  # noqa: PLC0415
    from seqexp.predictions import PredictionFileWriter, records  # noqa: PLC0415

    exported = ExportedModel.read(ckpt_path) if is_exported(ckpt_path) else None  # a seqexp.export file (.onnx, .pt)
    if exported is None:
        checkpoint = check_checkpoint(ckpt_path, "ckpt_path", resume=False)  # exists, complete, weights-only loadable
        text_model = text_config if text_config is not None else takes_texts(checkpoint["hyper_parameters"])
    else:
        text_model = takes_texts(exported.metadata["hyper_parameters"])
    texts = texts_given(cfg, text_model)
    check_something_to_predict(cfg, text_model)  # again: the checkpoint told, when the run's config did not
    writer = PredictionFileWriter(cfg.output_file, cfg.max_rows)  # a file that cannot be written fails here
    task_class, datamodule = build(cfg, ckpt_path, text_model, overrides, exported, run_cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=[writer, StopOnSigterm()])
    if exported is None:
        task = task_class.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
        trainer.predict(task, datamodule=datamodule, ckpt_path=str(ckpt_path), weights_only=True, return_predictions=False)
    else:
        datamodule.load_state_dict(exported.data_state)  # what Lightning restores from a checkpoint's copy
        trainer.predict(exported.task(), datamodule=datamodule, return_predictions=False)
    if texts and cfg.file is not None and cfg.output_file is not None:  # stdout: the labels only
        counts = Counter(writer.table["label"])
        print(f"{sum(counts.values())} texts labelled: {', '.join(f'{count} {label}' for label, count in sorted(counts.items()))}")
    elif texts:
        for row in records(writer.table):
            shares = "  ".join(f"{name}={p:.3f}" for name, p in row["probabilities"].items())
            print(f"{row['label']}\t{shares}\t{row['text']}")
    return writer.table


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@user_errors_are_short
@exits_143_on_sigterm
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
