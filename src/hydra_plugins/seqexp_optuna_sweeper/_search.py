"""The search: Hydra's sweep syntax to Optuna distributions, then ask -> launch -> tell, one batch of trials at a time.

Each trial is a Hydra job whose overrides are the trial's parameters, plus ``hydra.sweeper.trial=<number>`` so the
job can report its validations to the trial (``seqexp.search.job_trial``). How a job ended becomes the trial's state:
a value -> COMPLETE, ``optuna.TrialPruned`` -> PRUNED, anything else (seqexp records a failed job and returns
None) -> FAIL. A launch that ends the sweep (SIGTERM, Ctrl-C, fail_fast) fails the trials of its batch too.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import Counter
from typing import Any

import numpy as np
import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from seqexp.search import open_study, storage_url

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")


def distribution(override: Override) -> BaseDistribution | str:
    """An Optuna distribution for a sweep override, as hydra-optuna-sweeper reads them (``range`` stops before its
    end, as everywhere in Hydra); a plain value (``key=value``) comes back as its string: the same in every trial."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise SystemExit(f"Error: {override.input_line}: an empty range")
        if all(isinstance(item, int) for item in values):
            return IntDistribution(values[0], values[-1], step=int(value.step)) if values[0] <= values[-1] else CategoricalDistribution(values)
        return CategoricalDistribution(values)  # float steps: the values Hydra's range gives, no rounding surprises
    if override.is_interval_sweep():
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise SystemExit(f"Error: {override.input_line}: the Optuna sweeper takes choice(...), range(...), interval(...) and tag(log, interval(...))")


def search_space(overrides: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """Swept keys with their distributions, and fixed ``key=value`` overrides, parsed by Hydra's own override parser."""
    space, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(overrides):
        found = distribution(override)
        (space if isinstance(found, BaseDistribution) else fixed)[override.get_key_element()] = found
    for key in fixed:
        space.pop(key, None)  # a value on the command line wins over the config's search space
    return space, fixed


def grid(space: dict[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of every swept key, for ``hydra/sweeper/sampler=grid``."""
    values = {}
    for key, found in space.items():
        if isinstance(found, CategoricalDistribution):
            values[key] = list(found.choices)
        elif isinstance(found, IntDistribution) and not found.log:
            values[key] = list(range(found.low, found.high + 1, found.step))
        else:
            raise SystemExit(f"Error: hydra.sweeper.params.{key}: the grid sampler takes choice(...) or range(...), not an interval")
    return values


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s draws: distinct for each (seed, number), so neither two trials of a study nor
    trial n of one seed and trial n+1 of the next (as with seed + number) draw alike."""
    return int(np.random.SeedSequence((seed, number)).generate_state(1)[0])


def suggest(trial: optuna.Trial, key: str, found: BaseDistribution) -> Any:
    """``trial``'s value of ``key`` from ``found``, through the trial's public ``suggest_*``."""
    if isinstance(found, CategoricalDistribution):
        return trial.suggest_categorical(key, found.choices)
    if isinstance(found, IntDistribution):
        return trial.suggest_int(key, found.low, found.high, step=found.step, log=found.log)
    return trial.suggest_float(key, found.low, found.high, step=found.step, log=found.log)


def ask(study: optuna.Study, space: dict[str, BaseDistribution], per_trial: functools.partial | None) -> optuna.Trial:
    """A new trial of ``study`` with its parameters drawn. With ``per_trial`` (a seeded sampler, not yet made) they are
    drawn with a seed of the configured one and the trial's number: one stream from the configured seed would draw a
    continued study's start-up trials again, and the same ones in processes started together on one storage. A trial's
    number is its own among every process that shares the study, and a fresh command numbers its trials alike."""
    if per_trial is None:
        return study.ask(space)
    trial = study.ask()  # the number, before anything is drawn (tpe and random draw nothing when a trial starts)
    study.sampler = per_trial(seed=trial_seed(per_trial.keywords["seed"], trial.number))
    for key, found in space.items():
        suggest(trial, key, found)
    return trial


class OptunaSearch:
    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: str,
        study_name: str | None,
        storage: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
    ) -> None:
        if direction not in DIRECTIONS:
            raise SystemExit(f"Error: hydra.sweeper.direction={direction}: must be one of {list(DIRECTIONS)}")
        for key, value, low in (("n_trials", n_trials, 0), ("n_jobs", n_jobs, 1)):
            if value < low:
                raise SystemExit(f"Error: hydra.sweeper.{key}={value}: must be an integer >= {low}")
        if not 0.0 <= max_failure_rate <= 1.0:
            raise SystemExit(f"Error: hydra.sweeper.max_failure_rate={max_failure_rate}: must be a number in [0, 1]")
        self.sampler, self.pruner, self.direction = sampler, pruner, direction
        self.study_name, self.storage = study_name, storage
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.params = {str(key): str(value) for key, value in (params or {}).items()}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context, task_function=task_function)
        self.url = storage_url(self.storage, config.hydra.runtime.cwd)

    def sweep(self, arguments: list[str]) -> None:
        space, fixed = search_space([f"{key}={value}" for key, value in self.params.items()] + list(arguments))
        sampler, n_trials, per_trial = self.sampler, self.n_trials, None
        if isinstance(sampler, functools.partial) and issubclass(sampler.func, optuna.samplers.GridSampler):  # its grid is the search space
            values = grid(space)
            sampler = sampler(values)  # seeded once: Optuna gives trial n the grid's n-th point, so processes sharing a study differ
            n_trials = min(n_trials, math.prod(len(choices) for choices in values.values()))
        elif isinstance(sampler, functools.partial):  # tpe and random (_partial_: true)
            per_trial = sampler if sampler.keywords.get("seed") is not None else None  # seeded: made again for each trial
            sampler = sampler()
        study = open_study(self.url, self.study_name, self.direction, sampler, self.pruner or optuna.pruners.NopPruner())
        before = len(study.get_trials(deepcopy=False))
        log.info(
            "Optuna %s: study %s in %s, to %s (%d trials before this sweep); %s, pruner %s; %d trials, %d at once",
            optuna.__version__,
            study.study_name,
            self.url or "memory",
            self.direction,
            before,
            type(sampler).__name__,
            type(self.pruner).__name__ if self.pruner else "none",
            n_trials,
            self.n_jobs,
        )
        job_index, left = 0, n_trials
        while left > 0:
            trials = [ask(study, space, per_trial) for _ in range(min(self.n_jobs, left))]
            batch = [
                tuple(
                    [
                        *(f"{key}={value}" for key, value in trial.params.items()),
                        *(f"{key}={value}" for key, value in fixed.items()),
                        *([f"hydra.sweeper.study_name={study.study_name}"] if self.study_name is None else []),
                        f"hydra.sweeper.trial={trial.number}",
                    ]
                )
                for trial in trials
            ]
            try:
                returns = self.launcher.launch(batch, initial_job_idx=job_index)
            except BaseException:  # SIGTERM (seqexp's exit 143), Ctrl-C, fail_fast: the sweep ends inside this batch
                self.abandon(study, trials)
                raise
            job_index, left = job_index + len(returns), left - len(trials)
            states = [self.tell(study, trial, job) for trial, job in zip(trials, returns)]
            failed = states.count(TrialState.FAIL)
            if failed / len(states) > self.max_failure_rate:
                raise SystemExit(
                    f"Error: {failed} of {len(states)} trials of a batch failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: search stopped"
                )
        self.report(study, before)

    def tell(self, study: optuna.Study, trial: optuna.Trial, job: Any) -> TrialState:
        """The trial's end from its job's: the value it returned, pruned, or failed."""
        if job.status == JobStatus.FAILED:  # what the job raised (JobReturn.return_value would log it as an error, then raise it)
            error = job._return_value
            if isinstance(error, optuna.TrialPruned):
                log.info("trial %d pruned: %s", trial.number, error)
                return study.tell(trial, state=TrialState.PRUNED).state
            log.warning("trial %d failed: %s: %s", trial.number, type(error).__name__, error)
            return study.tell(trial, state=TrialState.FAIL).state
        value = job.return_value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            log.warning("trial %d failed: its job returned %r, not a finite number", trial.number, value)
            return study.tell(trial, state=TrialState.FAIL).state
        return study.tell(trial, float(value)).state

    def abandon(self, study: optuna.Study, trials: list[optuna.Trial]) -> None:
        """Tell the study that trials whose jobs never returned did not finish (FAIL): left RUNNING, they would stay
        so for good in a stored study, and a continued or shared one would count them."""
        for trial in trials:
            if study.tell(trial, state=TrialState.FAIL, skip_if_finished=True).state == TrialState.FAIL:
                log.warning("trial %d failed: the sweep stopped before its job returned", trial.number)

    def report(self, study: optuna.Study, before: int) -> None:
        """Log the study's counts and best trial; write them to ``<sweep dir>/optimization_results.yaml``."""
        trials = study.get_trials(deepcopy=False)
        states = Counter(trial.state.name.lower() for trial in trials[before:])
        result: dict[str, Any] = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": self.url,
            "direction": self.direction,
            "trials": len(trials),
            "this_sweep": dict(sorted(states.items())),
        }
        completed = [trial for trial in trials if trial.state == TrialState.COMPLETE]
        if completed:
            best = study.best_trial
            result.update(best_trial=best.number, best_value=best.value, best_params=best.params)
            log.info("Best trial %d of %d: value %.6g, params %s", best.number, len(trials), best.value, best.params)
        log.info("This sweep: %s", ", ".join(f"{count} {state}" for state, count in sorted(states.items())))
        OmegaConf.save(OmegaConf.create(result), f"{self.config.hydra.sweep.dir}/optimization_results.yaml")
