"""What an Optuna search shares between its sweeper and its jobs: where the study lives, which trial a job runs.

The sweeper (``hydra_plugins.seqexp_optuna_sweeper``) asks the study for trials and launches one job each; a job
finds its trial again and reports each validation to it (``seqexp.callbacks.OptunaPruning``). A study in a storage
(``sqlite:///optuna.db``, any RDB URL) is reloaded from there, so jobs may run in other processes (joblib) or on
other machines (SLURM), and several sweeps given the same storage and study name share one study. A study in
memory is found in this process only: its jobs report to it when they run in the sweeper's process (Hydra's basic
launcher).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna

SQLITE = "sqlite:///"

# Studies without a storage, by name, with their storage object: how a job in the sweeper's process finds its trial.
_IN_MEMORY: dict[str, tuple[optuna.Study, optuna.storages.BaseStorage]] = {}


def storage_url(storage: str | None, cwd: str | Path) -> str | None:
    """``storage`` with a relative SQLite path made absolute against ``cwd`` (the folder the sweep was started in),
    so its jobs, a later ``seqexp.summarize`` and commands started elsewhere all open the same file."""
    if not storage or not storage.startswith(SQLITE):
        return storage
    path, query = storage[len(SQLITE) :].partition("?")[::2]
    if path.startswith("/") or path in ("", ":memory:"):
        return storage
    return SQLITE + str(Path(cwd, path).resolve()) + (f"?{query}" if query else "")


def open_storage(url: str | None, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna's storage for ``url`` (None: in memory). SQLite waits up to a minute for a lock, not five seconds:
    several sweeps and their jobs write to one file. Processes started together on a new database all make its
    tables; those that lose that race open it again, and find the tables made."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415  (Optuna's RDB storage is built on it)

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else None
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except SQLAlchemyError:
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def open_study(url: str | None, study_name: str | None, direction: str, sampler: Any, pruner: Any) -> optuna.Study:
    """The study ``study_name`` in ``url``, created when it is not there yet; one in memory is registered for jobs.
    A storage that cannot be used ends the sweep with one line that names it: SQLAlchemy's trace is 100+ lines."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415  (Optuna's RDB storage is built on it)

    try:
        storage = open_storage(url)
        study = optuna.create_study(storage=storage, study_name=study_name, direction=direction, sampler=sampler, pruner=pruner, load_if_exists=True)
    except (SQLAlchemyError, ImportError) as error:  # a malformed URL, an unknown scheme or missing driver, a file or server out of reach
        raise SystemExit(f"Error: hydra.sweeper.storage={url}: cannot open a study there: {storage_problem(url, error)}") from None
    if study.direction.name.lower() != direction:
        raise SystemExit(
            f"Error: hydra.sweeper.study_name={study.study_name} in hydra.sweeper.storage={url} was made to "
            f"{study.direction.name.lower()}, not to {direction}: choose another study_name or storage"
        )
    if url is None:
        _IN_MEMORY[study.study_name] = (study, storage)
    return study


def storage_problem(url: str | None, error: BaseException) -> str:
    """Why ``url`` could not be opened, in one line: the database driver's own words (not SQLAlchemy's wrapper and
    link), or for SQLite the missing folder, where SQLite says only "unable to open database file"."""
    if url and url.startswith(SQLITE):
        folder = Path(url[len(SQLITE) :].partition("?")[0]).parent
        if not folder.is_dir():
            return f"no folder {folder}"
    cause = getattr(error, "orig", None) or error.__cause__ or error
    return str(cause).strip().splitlines()[0]


def job_trial(url: str | None, study_name: str, number: int, pruner: Any) -> optuna.Trial | None:
    """Trial ``number`` of the study, to report to from a job; None for a study in memory held by another process."""
    if url is None:
        if study_name not in _IN_MEMORY:
            return None
        study, storage = _IN_MEMORY[study_name]
    else:
        storage = open_storage(url)
        study = optuna.load_study(
            study_name=study_name, storage=storage, pruner=pruner or optuna.pruners.NopPruner(), sampler=optuna.samplers.RandomSampler()
        )  # a job samples nothing
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
    return optuna.trial.Trial(study, trial_id)


def study_trials(url: str, study_name: str) -> tuple[str, list[optuna.trial.FrozenTrial]]:
    """The direction and every trial of a stored study (all commands and processes that shared it)."""
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    return study.direction.name.lower(), study.get_trials(deepcopy=False)
