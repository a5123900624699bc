"""Config plumbing shared by the entry points: early validation and group instantiation.

Only this module and the entry points know about Hydra; everything they build is plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.models.encoder import CELLS
from seqexp.tasks.optim import OPTIMIZERS, SCHEDULERS


class ConfigError(ValueError):
    """A config value is out of its allowed range; the message names the full key."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    key: str
    allowed: str
    check: Callable[[Any], bool]


RULES: tuple[Rule, ...] = (
    Rule("model.cell", f"one of {sorted(CELLS)}", lambda v: v in CELLS),
    Rule("model.hidden_size", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("model.num_layers", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("model.bidirectional", "true or false", lambda v: isinstance(v, bool)),
    Rule("model.dropout", "a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1),
    Rule("model.conv.layers", "an integer >= 0", lambda v: _is_int(v) and v >= 0),
    Rule("model.conv.channels", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("model.conv.kernel_size", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("model.compile", "true or false", lambda v: isinstance(v, bool)),
    Rule("optim.name", f"one of {sorted(OPTIMIZERS)}", lambda v: v in OPTIMIZERS),
    Rule("optim.lr", "a number > 0", lambda v: _is_number(v) and v > 0),
    Rule("optim.weight_decay", "a number >= 0", lambda v: _is_number(v) and v >= 0),
    Rule("scheduler.name", f"one of {list(SCHEDULERS)}", lambda v: v in SCHEDULERS),
    Rule("data.batch_size", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
    Rule("seed", "an integer", _is_int),
)


def validate_config(cfg: DictConfig, rules: tuple[Rule, ...] = RULES) -> None:
    """Fail before anything is built, naming the key, its value and what is allowed."""
    problems = []
    for rule in rules:
        value = OmegaConf.select(cfg, rule.key, default=None)
        if value is None and OmegaConf.select(cfg, rule.key, default="<absent>") == "<absent>":
            continue  # the key belongs to a group this run does not use
        if not rule.check(value):
            problems.append(f"{rule.key}={value!r}: must be {rule.allowed}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def instantiate_group(section: DictConfig | None) -> list[Any]:
    """Objects of a named group (callbacks, loggers); entries set to null are left out."""
    if not section:
        return []
    return [instantiate(entry) for entry in section.values() if entry is not None and "_target_" in entry]


def plain(section: DictConfig) -> dict:
    """Resolved plain dict, as tasks and checkpoints want it."""
    return OmegaConf.to_container(section, resolve=True)  # type: ignore[return-value]
