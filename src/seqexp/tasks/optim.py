"""Optimizer and learning-rate scheduler from their config sections (``conf/optim``, ``conf/scheduler``).

Each section names its class as Hydra does (``_target_``, ``_partial_: true``: called with the parameters or the
optimizer) and carries that class's constructor keys; a scheduler's section also carries Lightning's
``lr_scheduler_config`` keys (``interval``, ``frequency``, ``monitor``). The task builds them here from plain
dicts, without Hydra: its checkpoint's hyperparameters stay plain values. A section without ``_target_``
(``scheduler=none``) is no scheduler.

Runs saved before these configs (7e8c8d0 up to the change) name a registry entry instead (``name: adam``,
``name: cosine`` with ``t_max``): :func:`current_form` translates such a section, here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import torch

from seqexp.checks import HYDRA_KEYS, LR_SCHEDULER_KEYS, locate

# The registry entries that saved runs name (``optim.name``, ``scheduler.name``), as ``_target_`` classes.
OLD_TARGETS = {
    "adam": "torch.optim.Adam",
    "adamw": "torch.optim.AdamW",
    "sgd": "torch.optim.SGD",
    "rmsprop": "torch.optim.RMSprop",
    "adagrad": "torch.optim.Adagrad",
    "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR",
    "step": "torch.optim.lr_scheduler.StepLR",
    "plateau": "torch.optim.lr_scheduler.ReduceLROnPlateau",
}
OLD_KEYS = {"t_max": "T_max"}  # the saved cosine schedule's key, by the constructor's name
SCHEDULES = ("cosine", "step", "plateau")
SAVED_SCHEDULE = {"interval": "epoch", "frequency": 1}  # how Lightning stepped every saved schedule


def current_form(section: dict) -> dict:
    """An ``optim`` or ``scheduler`` section as conf/ writes it now; one saved before (``name: <entry>``)
    translated (``name: none``: no scheduler)."""
    if "_target_" in section or "name" not in section:
        return dict(section)
    settings = {OLD_KEYS.get(key, key): value for key, value in section.items() if key != "name"}
    name = section["name"]
    if name == "none":
        return {}
    if name not in OLD_TARGETS:
        raise ValueError(f"name={name!r}: not an optimizer or scheduler of a saved run; they are {sorted(OLD_TARGETS)}")
    translated = {"_target_": OLD_TARGETS[name], "_partial_": True, **settings}
    return {**translated, **SAVED_SCHEDULE} if name in SCHEDULES else translated


def call_target(section: dict, *args: Any) -> Any:
    """``section['_target_']`` called with ``args`` first and the section's keys, as Hydra's ``instantiate`` of a
    ``_partial_`` node then called with ``args``."""
    return locate(str(section["_target_"]))(*args, **{key: value for key, value in section.items() if key not in HYDRA_KEYS})


def build_optimizer(parameters: Any, optim: dict) -> torch.optim.Optimizer:
    return call_target(current_form(optim), parameters)


def build_scheduler(optimizer: torch.optim.Optimizer, scheduler: dict, max_epochs: int) -> dict | None:
    """Lightning's lr_scheduler_config, or None for a constant learning rate. ``T_max: null`` (a cosine half-period)
    is the run's ``max_epochs``."""
    settings = current_form(scheduler)
    if "_target_" not in settings:
        return None
    lightning = {key: settings.pop(key) for key in LR_SCHEDULER_KEYS if key in settings}
    if "T_max" in settings and settings["T_max"] is None:
        settings["T_max"] = max_epochs
    return {"scheduler": call_target(settings, optimizer), **lightning}
