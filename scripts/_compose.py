"""The train config for a baseline script: the user's overrides on seqexp's own conf/."""

from __future__ import annotations

from hydra import compose, initialize_config_module
from omegaconf import DictConfig


def with_default_data(overrides: list[str], default_data: str) -> list[str]:
    """``overrides`` as for ``python -m seqexp.train``, led by ``data=<default_data>`` unless they choose a data config."""
    return overrides if any(item.startswith("data=") for item in overrides) else [f"data={default_data}", *overrides]


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_module(config_module="seqexp.conf", version_base="1.3"):
        return compose(config_name="train", overrides=overrides)
