"""Optimizer and LR scheduler from plain config dicts (``conf/optim``, ``conf/scheduler``)."""

from __future__ import annotations

from typing import Any

import torch

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
SCHEDULERS = ("none", "cosine", "step", "plateau")


def build_optimizer(parameters: Any, optim: dict) -> torch.optim.Optimizer:
    settings = dict(optim)
    name = settings.pop("name")
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])
    return OPTIMIZERS[name](parameters, **settings)


def build_scheduler(optimizer: torch.optim.Optimizer, scheduler: dict, max_epochs: int) -> dict | None:
    """Lightning's lr_scheduler_config, or None for a constant learning rate."""
    settings = dict(scheduler)
    name = settings.pop("name")
    monitor = settings.pop("monitor", None)
    if name == "none":
        return None
    if name == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=settings["t_max"] or max_epochs, eta_min=settings["eta_min"]
        )
    elif name == "step":
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings["step_size"], gamma=settings["gamma"])
    elif name == "plateau":
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=settings["mode"], factor=settings["factor"], patience=settings["patience"]
        )
    else:
        raise ValueError(f"scheduler.name must be one of {SCHEDULERS}, got {name!r}")
    return {"scheduler": schedule, "interval": "epoch", "monitor": monitor}
