"""Config plumbing shared by the entry points: early validation and group instantiation.

Only this module and the entry points know about Hydra; everything they build is plain Python. Importing it
imports neither torch nor Lightning: :func:`validate_config` answers most mistakes before they are imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from seqexp.checks import ConfigError, config_problems, model_problems, source_problems, source_rule_problems


def override_key(override: str) -> str:
    """The key a command-line override sets: ``+model.hidden_size=64`` -> ``model.hidden_size``."""
    return override.lstrip("+~").split("=", 1)[0]


def folder_to_resume(ckpt_path: str | None, train: bool, overrides: list[str] | ListConfig, fresh_folder: str) -> str:
    """``hydra.run.dir`` of a run: the folder of the run a fit resumes (``ckpt_path=<run>/checkpoints/*.ckpt``
    with the run's own overrides), so its checkpoints, logs and ``metrics.json`` end where they began; else
    ``fresh_folder``. Other overrides make another experiment: it gets a fresh folder and the old one is kept."""
    if not train or ckpt_path in (None, "last", "hpc"):
        return fresh_folder
    checkpoint = Path(str(ckpt_path)).absolute()
    run = checkpoint.parent.parent
    saved_overrides = run / ".hydra" / "overrides.yaml"
    if checkpoint.parent.name != "checkpoints" or not saved_overrides.is_file():
        return fresh_folder

    def experiment(items: Any) -> set[str]:  # what was asked for, less where it goes and what it resumes from
        return {str(item) for item in items if override_key(str(item)) != "ckpt_path" and not override_key(str(item)).startswith("hydra.")}

    return str(run) if experiment(OmegaConf.load(saved_overrides)) == experiment(overrides) else fresh_folder


OmegaConf.register_new_resolver("seqexp.folder_to_resume", folder_to_resume, replace=True)

# monitor.mode -> the Optuna sweeper's direction: the search ranks trials as checkpoints and early stopping do.
OPTUNA_DIRECTIONS = {"min": "minimize", "max": "maximize"}


def optuna_direction(mode: str) -> str:
    """``hydra.sweeper.direction`` for ``monitor.mode`` (another mode passes through; the sweep start refuses it)."""
    return OPTUNA_DIRECTIONS.get(mode, mode)


OmegaConf.register_new_resolver("seqexp.optuna_direction", optuna_direction, replace=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    key: str
    allowed: str
    check: Callable[[Any], bool]


def _is_int_list(value: Any) -> bool:
    return isinstance(value, (list, ListConfig)) and len(value) > 0 and all(_is_int(item) and item >= 1 for item in value)


RULES: tuple[Rule, ...] = (
    Rule("model.compile", "true or false", lambda v: isinstance(v, bool)),  # wraps the encoder: no constructor takes it
    Rule("optim.lr", "a number > 0", lambda v: _is_number(v) and v > 0),
    Rule("optim.weight_decay", "a number >= 0", lambda v: _is_number(v) and v >= 0),
    Rule("scheduler.interval", "one of ['epoch', 'step']", lambda v: v in ("epoch", "step")),  # Lightning's lr_scheduler_config
    Rule("scheduler.frequency", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("monitor.mode", "one of ['min', 'max']", lambda v: v in ("min", "max")),  # early stopping's and the checkpoints' mode
)

_BATCH_LIMIT = "null, an integer >= 0 (batches) or a number in [0, 1] (fraction)"
TRAINER_RULES: tuple[Rule, ...] = (
    Rule("seed", "an integer in [0, 4294967295] (Lightning replaces others with a random seed)", lambda v: _is_int(v) and 0 <= v < 2**32),
    Rule("trainer.accelerator", "one of ['auto', 'cpu', 'gpu', 'cuda', 'mps']", lambda v: v in ("auto", "cpu", "gpu", "cuda", "mps")),
    Rule(
        "trainer.devices",
        "an integer >= 1, -1 (all), 'auto' or a list of device ids",
        lambda v: v == "auto" or (_is_int(v) and (v >= 1 or v == -1)) or (isinstance(v, ListConfig) and all(_is_int(i) for i in v)),
    ),
    Rule("trainer.num_nodes", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("trainer.min_epochs", "null or an integer >= 0", lambda v: v is None or (_is_int(v) and v >= 0)),
    Rule("trainer.max_epochs", "null, -1 (no limit) or an integer >= 0", lambda v: v is None or (_is_int(v) and v >= -1)),
    Rule("trainer.max_steps", "-1 (no limit) or an integer >= 0", lambda v: _is_int(v) and v >= -1),
    Rule("trainer.gradient_clip_val", "null or a number >= 0", lambda v: v is None or (_is_number(v) and v >= 0)),
    Rule("trainer.gradient_clip_algorithm", "one of ['norm', 'value']", lambda v: v in ("norm", "value")),
    Rule("trainer.accumulate_grad_batches", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("trainer.check_val_every_n_epoch", "null or an integer >= 1", lambda v: v is None or (_is_int(v) and v >= 1)),
    Rule(
        "trainer.val_check_interval",
        "null, a number in (0, 1] (fraction of an epoch) or an integer >= 1 (batches)",
        lambda v: v is None or (_is_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
    ),
    Rule("trainer.log_every_n_steps", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("trainer.deterministic", "true, false or 'warn'", lambda v: isinstance(v, bool) or v == "warn"),
    Rule("trainer.detect_anomaly", "true or false", lambda v: isinstance(v, bool)),
    Rule("trainer.fast_dev_run", "true, false or an integer >= 0 (batches)", lambda v: isinstance(v, bool) or (_is_int(v) and v >= 0)),
    *(
        Rule(f"trainer.limit_{split}_batches", _BATCH_LIMIT, lambda v: v is None or (_is_int(v) and v >= 0) or (isinstance(v, float) and 0 <= v <= 1))
        for split in ("train", "val", "test")
    ),
)


def _trainer_epochs_problems(cfg: DictConfig) -> list[str]:
    """``trainer.min_epochs`` within ``trainer.max_epochs``: a rule across the keys of Lightning's Trainer, which has no
    ``check_config`` of ours (our classes' rules across keys are their own ``check_config``)."""
    min_epochs, max_epochs = (OmegaConf.select(cfg, f"trainer.{key}", default=None) for key in ("min_epochs", "max_epochs"))
    if _is_int(min_epochs) and _is_int(max_epochs) and max_epochs >= 0 and min_epochs > max_epochs:
        return [f"trainer.min_epochs={min_epochs}: larger than trainer.max_epochs={max_epochs}"]
    return []


def validate_config(cfg: DictConfig, rules: tuple[Rule, ...] = RULES + TRAINER_RULES) -> None:
    """Fail before anything is built, naming the key, its value and what is allowed. What the config and the
    source of seqexp's classes tell (their signatures and their ``check_config`` rules) is checked before torch and
    Lightning are imported; what needs a class (another library's signature, a rule the source does not tell,
    Lightning's precisions) once that holds."""
    _refuse(rule_problems(cfg, rules) + _trainer_epochs_problems(cfg))  # keys no constructor takes, and the Trainer's epochs
    groups = _resolved_groups(cfg)
    model = groups.get("model")
    _refuse(model_problems(model if isinstance(model, dict) else {}) + source_problems(groups))  # signatures, from the source
    problems, answered = source_rule_problems(groups)
    _refuse(problems)  # check_config rules, from the source
    _refuse(_imported_problems(cfg) or config_problems(groups, answered))  # every `_target_` imported and bound, then the other rules


def rule_problems(cfg: DictConfig, rules: tuple[Rule, ...]) -> list[str]:
    """``key=value: must be ...`` for each rule a key of ``cfg`` breaks (a key this run does not have is passed over)."""
    problems = []
    for rule in rules:
        value = OmegaConf.select(cfg, rule.key, default=None)
        if value is None and OmegaConf.select(cfg, rule.key, default="<absent>") == "<absent>":
            continue  # the key belongs to a group this run does not use
        if not rule.check(value):
            problems.append(f"{rule.key}={value!r}: must be {rule.allowed}")
    return problems


def _imported_problems(cfg: DictConfig) -> list[str]:
    """The rules that need Lightning or torch imported: Lightning's own list of precisions, the LSTM-FCN's keys together."""
    from seqexp.lightning_internals import PRECISIONS  # noqa: PLC0415 - Lightning, once the checks without it hold
    from seqexp.models.encoder import lstm_fcn_problems, model_architecture  # noqa: PLC0415 - torch, likewise

    problems = rule_problems(cfg, (Rule("trainer.precision", f"one of {PRECISIONS}", lambda v: v in PRECISIONS),))
    model = OmegaConf.select(cfg, "model", default=None)
    filters, kernel_sizes = (OmegaConf.select(cfg, f"model.fcn.{key}", default=None) for key in ("filters", "kernel_sizes"))
    if isinstance(model, DictConfig) and model_architecture(model) == "lstm_fcn" and _is_int_list(filters) and _is_int_list(kernel_sizes):
        problems += lstm_fcn_problems(model.get("bidirectional") is True, list(filters), list(kernel_sizes), model.get("dimension_shuffle") is True)
    return problems


def _refuse(problems: list[str]) -> None:
    if len(problems) == 1:
        raise ConfigError(f"invalid config: {problems[0]}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def _resolved_groups(cfg: DictConfig) -> dict[str, Any]:
    """The run config as plain values, less Hydra's own node (a group that does not resolve keeps its
    interpolations as text, which the value checks pass over)."""
    groups: dict[str, Any] = {}
    for name in cfg:
        if name == "hydra":
            continue
        node = cfg._get_node(name)  # noqa: SLF001 - unresolved, so an interpolation that fails is not raised here
        try:
            groups[str(name)] = OmegaConf.to_container(cfg[name], resolve=True) if isinstance(node, (DictConfig, ListConfig)) else cfg[name]
        except Exception:  # noqa: BLE001 - e.g. ${hydra:...} outside a Hydra run: its names are still bound
            groups[str(name)] = OmegaConf.to_container(node, resolve=False) if isinstance(node, (DictConfig, ListConfig)) else None
    return groups


def instantiate_group(section: DictConfig | None) -> list[Any]:
    """Objects of a named group (callbacks, loggers); entries set to null are left out."""
    if not section:
        return []
    return [instantiate(entry) for entry in section.values() if entry is not None and "_target_" in entry]


def callbacks_without_validation(section: DictConfig | None) -> dict[str, Any]:
    """The callbacks of a run whose data has no validation split (e.g. UCR ``data.val_fraction=0``): no
    ``val/*`` metric exists, so early stopping is left out and checkpoints monitor nothing (the last
    epoch's weights are the ones tested)."""
    entries = OmegaConf.to_container(section, resolve=True) if section else {}
    kept = {name: entry for name, entry in entries.items() if entry is not None and not str(entry.get("_target_", "")).endswith("EarlyStopping")}
    return {name: {**entry, "monitor": None} if "monitor" in entry else entry for name, entry in kept.items()}


# Config groups whose option says what was run (paths, logger, callbacks, hydra/* say how).
EXPERIMENT_GROUPS = ("experiment", "data", "model", "optim", "scheduler", "trainer", "debug", "hparams_search")


def hydra_runtime(cfg: DictConfig) -> tuple[list[str], dict[str, str]]:
    """What the user typed (overrides) and the option chosen in each config group."""
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
    else:  # composed in-process with return_hydra_config=True, or a plain config
        hydra_cfg = OmegaConf.select(cfg, "hydra", default=None)
        if hydra_cfg is None:
            return [], {}
    choices = {group: choice for group, choice in hydra_cfg.runtime.choices.items() if choice and group in EXPERIMENT_GROUPS}
    return list(hydra_cfg.overrides.task), choices


def plain(section: DictConfig) -> dict:
    """Resolved plain dict, as tasks and checkpoints want it."""
    return OmegaConf.to_container(section, resolve=True)  # type: ignore[return-value]
