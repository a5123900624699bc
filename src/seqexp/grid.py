"""The jobs of a grid sweep, as Hydra's basic sweeper expands it: read before any job runs (each job's config is
checked at the sweep's start) and after it stopped (the summary counts the jobs that never started)."""

from __future__ import annotations

import itertools

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def grid_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides from a sweep's config (the sweep's own, or ``multirun.yaml``): ``hydra.sweeper.params``
    then the command line's overrides, a later override of a key replacing an earlier one, as the basic sweeper
    keys them. None for another sweeper (an Optuna search's trials are no grid) or a grid that cannot be expanded
    without the config groups (``glob(...)``) or that the basic sweeper refuses (``interval(...)``)."""
    if OmegaConf.select(config, "hydra.sweeper._target_") != BASIC_SWEEPER:
        return None
    params, task = OmegaConf.select(config, "hydra.sweeper.params"), OmegaConf.select(config, "hydra.overrides.task")
    arguments = [f"{key}={value}" for key, value in (OmegaConf.to_container(params) if params else {}).items()]
    arguments += [str(item) for item in task] if task else []  # as recorded: ${...} left for the jobs to resolve
    choices: dict[str, list[str]] = {}
    try:
        for override in OverridesParser.create().parse_overrides(arguments):
            key = override.get_key_element()
            if not override.is_sweep_override():
                choices[key] = [f"{key}={override.get_value_element_as_str()}"]
            elif override.is_discrete_sweep():
                choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
            else:
                return None  # interval(...)
    except HydraException:
        return None
    return [list(job) for job in itertools.product(*choices.values())]
