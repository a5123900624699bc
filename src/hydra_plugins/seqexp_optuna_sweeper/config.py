"""The sweeper's config schema and its sampler and pruner options, registered in Hydra's ConfigStore.

    hydra/sweeper=seqexp_optuna                 the sweeper (conf/hparams_search/sine_optuna.yaml selects it)
    hydra/sweeper/sampler=tpe|random|grid       how trials are drawn (hydra.sweeper.sampler.seed=...)
    hydra/sweeper/pruner=median|hyperband       when a trial stops early; hydra.sweeper.pruner=null: never

Any other Optuna sampler or pruner: a config of your own in that group with its ``_target_`` (a sampler with
``_partial_: true`` and a ``seed`` is seeded for each trial, as tpe and random are).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class SeqexpOptunaSweeperConf:
    _target_: str = "hydra_plugins.seqexp_optuna_sweeper.optuna_sweeper.SeqexpOptunaSweeper"
    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}, {"pruner": "median"}])
    sampler: Any = None  # an Optuna sampler, instantiated (hydra/sweeper/sampler)
    pruner: Any = None  # an Optuna pruner, instantiated; null: trials are never stopped early (hydra/sweeper/pruner)
    direction: str = "minimize"  # minimize | maximize: how the value each job returns ranks
    study_name: Optional[str] = None  # a study's name in its storage; the same name and storage continue or share it
    storage: Optional[str] = None  # null: in memory, gone after the command; sqlite:///optuna.db (or any RDB URL) keeps it
    n_trials: int = 20  # trials this command runs (a study continued or shared gains n_trials from each command)
    n_jobs: int = 1  # trials asked for at once; they run in parallel only with a parallel launcher (joblib, slurm)
    max_failure_rate: float = 0.0  # stop the search when more than this fraction of a batch of trials failed
    params: Optional[Dict[str, str]] = None  # key: Hydra sweep syntax, e.g. choice(1, 2), interval(0.1, 1), tag(log, ...)
    trial: Optional[int] = None  # set by the sweeper in each job's config: the number of the trial the job runs


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    _partial_: bool = True  # the sweeper makes it for each trial, seeded by seed and the trial's number
    seed: Optional[int] = None
    n_startup_trials: int = 10  # random trials before TPE starts modelling
    multivariate: bool = False


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    _partial_: bool = True  # the sweeper makes it for each trial, seeded by seed and the trial's number
    seed: Optional[int] = None


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True  # the sweeper passes the grid: every value of every choice(...)/range(...) in params
    seed: Optional[int] = None


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that finish before any is pruned
    n_warmup_steps: int = 0  # validations of a trial before it can be pruned
    interval_steps: int = 1
    n_min_trials: int = 1  # trials that reported at a validation before a trial can be pruned there


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1  # validations every trial gets
    max_resource: Any = "auto"  # validations of the longest trial (auto: the most any finished trial reported)
    reduction_factor: int = 3


store = ConfigStore.instance()
store.store(group="hydra/sweeper", name="seqexp_optuna", node=SeqexpOptunaSweeperConf, provider="seqexp")
for group, name, node in [
    ("sampler", "tpe", TPESamplerConf),
    ("sampler", "random", RandomSamplerConf),
    ("sampler", "grid", GridSamplerConf),
    ("pruner", "median", MedianPrunerConf),
    ("pruner", "hyperband", HyperbandPrunerConf),
]:
    store.store(group=f"hydra/sweeper/{group}", name=name, node=node, provider="seqexp")
