"""The ``Sweeper`` Hydra instantiates for ``hydra/sweeper=seqexp_optuna``; the search itself is in ``_search``."""

from __future__ import annotations

from typing import Any, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class SeqexpOptunaSweeper(Sweeper):
    """An Optuna study over Hydra jobs: each trial is one job of the launcher, its parameters the job's overrides.
    Keys: see ``config.SeqexpOptunaSweeperConf``."""

    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: str,
        study_name: Optional[str],
        storage: Optional[str],
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: Optional[DictConfig],
        trial: Optional[int] = None,
    ) -> None:
        from ._search import OptunaSearch  # noqa: PLC0415  (Optuna is imported when a search starts, not when Hydra scans plugins)

        self.search = OptunaSearch(
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            study_name=study_name,
            storage=storage,
            n_trials=n_trials,
            n_jobs=n_jobs,
            max_failure_rate=max_failure_rate,
            params=params,
        )

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> None:
        self.search.sweep(arguments)
