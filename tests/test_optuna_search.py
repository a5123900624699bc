"""The Optuna search on Optuna >= 4 (hydra_plugins.seqexp_optuna_sweeper), through the real CLI: a study kept in a
storage is shared by two processes started together and continued by a later command, whose trials the median
pruner stops (recorded as pruned, through the joblib launcher's worker processes), and summarize lists them all; no
trial of the shared or continued study repeats another's draws; a search stopped by SIGTERM fails the trial it
interrupted in the storage, where it would stay RUNNING for good; a storage that cannot be opened is one error line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import read_metrics, run_cli, sigterm_when
from seqexp.summarize import summarize
from seqexp.sweep import SIGTERM_EXIT_STATUS

optuna = pytest.importorskip("optuna", reason="needs the sweep extra: pip install -e '.[sweep]'")

# One setting for every trial (a search space of single choices): trials of a command are alike, so what separates
# the commands is the learning rate each fixes. Two epochs: two validations reported per trial.
TINY = [
    "hparams_search=sine_optuna",
    "model.cell=choice(gru)",
    "model.hidden_size=choice(16)",
    "model.num_layers=choice(1)",
    "trainer.max_epochs=2",
    "data.num_windows.train=128",
    "data.num_windows.val=32",
    "data.num_windows.test=32",
    "logger=none",
    "test=false",
    "callbacks.figures=null",
    "hydra.sweeper.study_name=shared",
    "hydra.sweeper.n_trials=4",
]
# A key drawn in every trial that changes nothing the tests check: two trials that drew alike have equal params.
DRAWN = "optim.weight_decay=interval(0.0, 0.000001)"


def long_enough_to_stop(overrides: list[str]) -> list[str]:
    """``overrides`` with a first trial long enough to be stopped while it trains, saving last.ckpt every 2 steps."""
    longer = ["trainer.max_epochs=3", "data.num_windows.train=2048", "callbacks.last_every_n_steps.every_n_train_steps=2"]
    return [o for o in overrides if o.split("=")[0] not in {x.split("=")[0] for x in longer}] + longer


def _trial_numbers(sweep_dir: Path) -> list[int]:
    """``hydra.sweeper.trial`` of each job: the trial the sweeper gave it."""
    return [
        yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]["sweeper"]["trial"] for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    ]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two sweeps of 4 good trials started at once on ``sqlite:///study.db`` (relative to their folder; pruner off),
    then a third command on the same file (absolute URL) with 4 trials of a learning rate too small to learn: its
    jobs run in joblib's worker processes and report to their trials through the file. All three have the same
    sampler seed, and the third is still in TPE's random start-up, where the old sweeper drew the first's trials again."""
    cwd = tmp_path_factory.mktemp("search")
    together = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seqexp.train",
                *TINY,
                DRAWN,
                "hydra.sweeper.storage=sqlite:///study.db",
                "hydra.sweeper.pruner=null",
                "optim.lr=0.01",
                f"hydra.sweep.dir={cwd / name}",
            ],
            cwd=cwd,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    outputs = [process.communicate(timeout=600) for process in together]
    for process, (_, stderr) in zip(together, outputs):
        assert process.returncode == 0, stderr[-4000:]
    later = run_cli(
        "train",
        *TINY,
        DRAWN,
        f"hydra.sweeper.storage=sqlite:///{cwd / 'study.db'}",
        "hydra.sweeper.sampler.n_startup_trials=20",
        "optim.lr=0.000001",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        f"hydra.sweep.dir={cwd / 'c'}",
        cwd=cwd,
    )
    stored = optuna.load_study(study_name="shared", storage=f"sqlite:///{cwd / 'study.db'}")
    return {"cwd": cwd, "later": later, "trials": stored.get_trials()}


def test_two_processes_with_one_storage_and_study_name_share_the_study(study: dict) -> None:
    a, b = (_trial_numbers(study["cwd"] / name) for name in ("a", "b"))
    assert len(a) == len(b) == 4
    assert sorted(a + b) == list(range(8))  # one numbering: each process asked the shared study for its trials


def test_a_later_command_continues_the_study(study: dict) -> None:
    log = study["later"].stdout + study["later"].stderr
    assert f"study shared in sqlite:///{study['cwd'] / 'study.db'}, to minimize (8 trials before this sweep)" in log
    assert len(study["trials"]) == 12  # 4 + 4 from the first two commands, 4 from this one
    assert sorted(_trial_numbers(study["cwd"] / "c")) == [8, 9, 10, 11]


def test_no_trial_of_a_shared_or_continued_study_repeats_another(study: dict) -> None:
    """The old sweeper seeded each command's sampler alike: the processes started together drew the same start-up
    trials, and the later command drew the first trials again."""
    drawn = [trial.params["optim.weight_decay"] for trial in study["trials"]]
    assert len(drawn) == 12 and len(set(drawn)) == 12, drawn


def test_every_validation_is_reported_and_worse_trials_are_pruned_not_failed(study: dict) -> None:
    trials = study["trials"]
    states = [trial.state for trial in trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 8 + [optuna.trial.TrialState.PRUNED] * 4
    assert all(sorted(trial.intermediate_values) == [0, 1] for trial in trials[:8])  # both epochs' validations
    assert all(trial.value == trial.intermediate_values[1] for trial in trials[:8])  # val/mse fell: the best is the last
    best_at_first = max(trial.intermediate_values[0] for trial in trials[:8])
    for trial in trials[8:]:  # stopped at the first validation, worse than every trial of lr=0.01 was by then
        assert list(trial.intermediate_values) == [0] and trial.value > best_at_first
    for job in sorted(p for p in (study["cwd"] / "c").iterdir() if p.is_dir()):
        record = read_metrics(job)
        assert record["status"] == "pruned" and record["reason"].startswith("pruned at validation 0")
    assert "failed" not in (study["later"].stdout + study["later"].stderr).lower()  # exit 0 (run_cli checked): a pruned job is no failure


def test_summarize_lists_every_trial_of_the_stored_study(study: dict) -> None:
    table = summarize(study["cwd"] / "c")
    assert "4 jobs (4 pruned)" in table
    assert f"Optuna study shared in sqlite:///{study['cwd'] / 'study.db'}: 12 trials (8 complete, 4 pruned), minimize" in table
    study_rows = [line for line in table.split("Optuna study")[1].splitlines() if line.startswith("| ")][1:]  # less the header
    assert [row.split("|")[2].strip() for row in study_rows] == ["complete"] * 8 + ["pruned"] * 4
    assert all(row.split("|")[5].strip() == "gru" for row in study_rows)  # the params columns: model.cell first


@pytest.mark.slow
def test_sigterm_during_a_trial_fails_it_in_the_stored_study_and_the_search_exits_143(tmp_path: Path) -> None:
    """The old sweeper left the interrupted trial RUNNING in the storage: a zombie a continued or shared study counts."""
    sweep_dir, last = tmp_path / "sweep", tmp_path / "sweep" / "0" / "checkpoints" / "last.ckpt"
    overrides = long_enough_to_stop(TINY)
    command = [sys.executable, "-m", "seqexp.train", *overrides, "hydra.sweeper.storage=sqlite:///study.db", f"hydra.sweep.dir={sweep_dir}"]
    status, output = sigterm_when(command, tmp_path / "console.txt", lambda _: last.exists(), cwd=tmp_path)  # trial 0 is training
    assert status == SIGTERM_EXIT_STATUS, output[-4000:]
    stored = optuna.load_study(study_name="shared", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert [(trial.number, trial.state) for trial in stored.get_trials()] == [(0, optuna.trial.TrialState.FAIL)]  # was RUNNING
    assert "trial 0 failed: the sweep stopped before its job returned" in output and not (sweep_dir / "1").exists()
    assert read_metrics(sweep_dir / "0")["status"] == "interrupted"

    # the command the log gives finishes the trial's job in its folder as one run: not a new search (the search
    # config sets hydra.mode MULTIRUN; the old command started 20 new trials under outputs/multirun)
    resume = output.split("resume with:\n")[1].splitlines()[0].split()
    assert resume[-2:] == ["hydra.mode=RUN", f"ckpt_path={last}"]
    resumed = run_cli("train", *resume[3:], cwd=tmp_path)
    assert resumed.returncode == 0 and not (tmp_path / "outputs").exists(), resumed.stderr[-3000:]
    assert read_metrics(sweep_dir / "0")["status"] == "completed" and not (sweep_dir / "1").exists()


@pytest.mark.slow
def test_a_resumed_trial_stopped_again_keeps_resuming_as_one_run(tmp_path: Path) -> None:
    """A trial's job resumed with its printed command (``... hydra.mode=RUN ckpt_path=...``) and stopped again must
    print a command that again resumes it, not one that starts a search (the search config sets MULTIRUN)."""
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.ckpt"
    fixed = [item.replace("choice(", "").rstrip(")") for item in TINY if not item.startswith("hydra.")]
    overrides = long_enough_to_stop(fixed)
    command = [sys.executable, "-m", "seqexp.train", *overrides, "hydra.mode=RUN", f"hydra.run.dir={run}"]
    status, output = sigterm_when(command, tmp_path / "console.txt", lambda _: last.exists(), cwd=tmp_path)
    assert status == SIGTERM_EXIT_STATUS, output[-4000:]
    resume = output.split("resume with:\n")[1].splitlines()[0].split()
    assert resume[-2:] == ["hydra.mode=RUN", f"ckpt_path={last}"] and "hparams_search=sine_optuna" in resume


def test_a_fresh_search_draws_the_same_trials_and_a_continued_one_new_ones() -> None:
    """The sweeper's draws (``_search.ask``, as ``sampler.seed: ${seed}`` configures TPE) on a study in memory: a fresh
    study with the same seed gets the same trials; a continued one, or one shared by two processes, gets new ones."""
    from functools import partial  # noqa: PLC0415

    from hydra_plugins.seqexp_optuna_sweeper._search import ask, search_space  # noqa: PLC0415  (Optuna: the sweep extra)

    space, _ = search_space(["model.cell=choice(rnn,lstm,gru)", "model.hidden_size=range(8,64)", "optim.lr=tag(log, interval(0.0003, 0.03))"])
    sampler = partial(optuna.samplers.TPESampler, seed=42, n_startup_trials=20)

    def draws(study: optuna.Study, n_trials: int) -> list[dict]:
        trials = [ask(study, space, sampler) for _ in range(n_trials)]
        for trial in trials:
            study.tell(trial, 1.0)
        return [trial.params for trial in trials]

    def command(storage: optuna.storages.BaseStorage) -> optuna.Study:
        return optuna.create_study(storage=storage, study_name="s", sampler=sampler(), load_if_exists=True)

    first, shared = optuna.storages.InMemoryStorage(), optuna.storages.InMemoryStorage()
    assert draws(command(first), 4) == draws(command(optuna.storages.InMemoryStorage()), 4)  # same seed, same trials
    continued = draws(command(first), 4)
    assert not any(params in draws(command(optuna.storages.InMemoryStorage()), 4) for params in continued)
    together = [command(shared), command(shared)]  # two processes on one storage, asking in turn
    drawn = [params for _ in range(2) for study in together for params in draws(study, 1)]
    assert len({params["optim.lr"] for params in drawn}) == 4


@pytest.mark.parametrize(
    ("storage", "reason"),
    [("sqlite:///{cwd}/missing/study.db", "no folder {cwd}/missing"), ("nosuchdb://host/study", "Can't load plugin: sqlalchemy.dialects:nosuchdb")],
)
def test_a_storage_that_cannot_be_opened_is_one_error_line_naming_the_key(tmp_path: Path, storage: str, reason: str) -> None:
    """The old sweeper let SQLAlchemy's 127-line trace out."""
    url = storage.format(cwd=tmp_path)
    result = run_cli("train", *TINY, f"hydra.sweeper.storage={url}", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output[-4000:]
    assert output.strip().splitlines()[-1] == f"Error: hydra.sweeper.storage={url}: cannot open a study there: {reason.format(cwd=tmp_path)}"
    assert not (tmp_path / "sweep" / "0").exists()  # ended before the first trial
