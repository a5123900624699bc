"""Sweeps through Hydra's own machinery: failing jobs, the Optuna sweeper, the joblib launcher, sweep folders
of their own, and what TensorBoard's HPARAMS tab shows of a sweep."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from helpers import compose_train, post_json, read_metrics, run_cli, tensorboard_server
from seqexp.hydra_callbacks import CheckRunFolder, CheckSweepDirection

FIXTURES = Path(__file__).parent / "fixtures"
SHORT = ["trainer.max_epochs=1", "data.num_windows.train=64", "data.num_windows.val=32", "data.num_windows.test=32"]

TINY = ["data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8", "logger=none"]


def _jobs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=lambda p: int(p.name))


# Job 0 reads a file that is not there: a failure of the run itself (a config mistake stops the sweep before any job).
REVIEWS = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"
MISSING_FILE_FIRST = ["data=text_csv", f"data.path=missing.csv,{REVIEWS}", "data.text_column=review", "data.label_column=sentiment"]


def test_failing_job_is_recorded_the_sweep_goes_on_then_exits_1_listing_it(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", *MISSING_FILE_FIRST, "debug=fast_dev_run", "logger=none", f"hydra.sweep.dir={sweep_dir}", check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert f"1 job(s) of the sweep in {sweep_dir} failed" in result.stderr
    assert f"{sweep_dir / '0'}: data=text_csv data.path=missing.csv " in result.stderr  # the folder and overrides of the failed job
    assert "Traceback" not in result.stdout + result.stderr  # a data mistake, not a bug
    failed, completed = (read_metrics(job) for job in _jobs(sweep_dir))
    assert failed["status"] == "failed" and failed["objective"] is None
    assert "data.path=missing.csv: no such file" in failed["error"]
    assert "data.path=missing.csv" in failed["overrides"]
    (logged,) = [line for line in (result.stdout + result.stderr).splitlines() if "job 0 failed; overrides:" in line]
    assert "data.path=missing.csv" in logged
    assert completed["status"] == "completed"


def test_fail_fast_stops_the_sweep_at_the_first_failure(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "train", "-m", "fail_fast=true", *MISSING_FILE_FIRST, "debug=fast_dev_run", "logger=none", f"hydra.sweep.dir={sweep_dir}", check=False, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "sweep stopped: fail_fast=true" in result.stderr
    assert [p.name for p in _jobs(sweep_dir)] == ["0"]  # job 1 never started
    assert read_metrics(sweep_dir / "0")["status"] == "failed"


def test_a_config_mistake_in_any_job_stops_the_sweep_before_the_first_job(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", "model.dropout=0.1,1.5", "model=stacked", *TINY, f"hydra.sweep.dir={sweep_dir}", check=False, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: job 1 of the sweep (model.dropout=1.5): invalid config: model.dropout=1.5: must be a number in [0, 1)"]
    assert not sweep_dir.exists()  # job 0 never trained: nothing was made


@pytest.mark.slow
def test_optuna_search_runs_three_trials_and_reports_the_best(tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="needs the sweep extra: pip install -e '.[sweep]'")
    sweep_dir = tmp_path / "sweep"
    run_cli(
        "train",
        "hparams_search=sine_optuna",
        "hydra.sweeper.n_trials=3",
        "model.cell=choice(rnn,gru)",
        "model.hidden_size=choice(4,8)",
        "model.num_layers=choice(1)",
        "trainer.max_epochs=1",
        *TINY[:3],
        "logger=none",
        f"hydra.sweep.dir={sweep_dir}",
    )
    trials = [read_metrics(job) for job in _jobs(sweep_dir)]
    assert len(trials) == 3 and all(trial["status"] == "completed" for trial in trials)
    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert result["best_value"] == pytest.approx(min(trial["objective"] for trial in trials))  # direction: minimize
    for job in _jobs(sweep_dir):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert {item.split("=")[0] for item in overrides} >= {"model.cell", "model.hidden_size", "optim.lr"}


@pytest.mark.slow
def test_joblib_launcher_runs_a_two_job_sweep(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=rnn,gru", "trainer.max_epochs=1", *TINY, f"hydra.sweep.dir={sweep_dir}"
    )
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    jobs = _jobs(sweep_dir)
    assert [p.name for p in jobs] == ["0", "1"]
    assert [json.loads((job / "metrics.json").read_text())["status"] for job in jobs] == ["completed", "completed"]
    configs = [yaml.safe_load((job / ".hydra" / "config.yaml").read_text()) for job in jobs]
    assert [config["model"]["cell"] for config in configs] == ["rnn", "gru"]


def test_slurm_launcher_config_composes_on_submitit() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the cluster extra: pip install -e '.[cluster]'")
    launcher = compose_train("hydra/launcher=slurm", "hydra.launcher.tasks_per_node=4").hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.timeout_min) == (4, 240)


# --- two sweeps at once (issue 23.2) and the HPARAMS table of a sweep (issue 23.13) ---


# `python -m seqexp.train ARGS` whose imports are done before it starts: every such process waits for the others'
# ready files, then all start at one wall-clock instant, 0.2 s into a second (their imports take seconds, and
# would otherwise spread their starts over more than one second).
START_TOGETHER = """
import runpy, sys, time
from pathlib import Path
import seqexp.train
ready, count = Path(sys.argv[1]), int(sys.argv[2])
ready.touch()
while len(list(ready.parent.glob("*.ready"))) < count:
    time.sleep(0.01)
latest = max(path.stat().st_mtime for path in ready.parent.glob("*.ready"))
time.sleep(max(0.0, int(latest) + 1.2 - time.time()))
sys.argv = [seqexp.train.__file__, *sys.argv[3:]]
runpy.run_module("seqexp.train", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[subprocess.CompletedProcess], dict[str, Path]]:
    """Two `python -m seqexp.train -m ...` started in the same instant in one folder, with the default keys
    (sweep folders, logger and all), as a user starts two sweeps from two terminals in the same second."""
    cwd, barrier = tmp_path_factory.mktemp("two_sweeps"), tmp_path_factory.mktemp("barrier")
    commands = {"4 jobs": ["model=rnn,gru", "model.hidden_size=8,16"], "2 jobs": ["model.hidden_size=8,16"]}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", START_TOGETHER, str(barrier / f"{index}.ready"), str(len(commands)), "-m", *overrides, *SHORT],
            cwd=cwd,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for index, overrides in enumerate(commands.values())
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    results = [subprocess.CompletedProcess(p.args, p.returncode, *output) for p, output in zip(processes, outputs)]
    folders = {}
    for name, result in zip(commands, results):
        assert result.returncode == 0, result.stderr[-3000:]
        (line,) = [line for line in (result.stdout + result.stderr).splitlines() if "Sweep folder: " in line]
        folders[name] = cwd / line.split("Sweep folder: ")[1].split(" (")[0]
    return cwd, results, folders


def test_two_sweeps_started_at_once_get_a_folder_each(two_sweeps: tuple) -> None:
    cwd, _, folders = two_sweeps
    assert sorted(p.relative_to(cwd / "outputs" / "multirun") for p in (cwd / "outputs" / "multirun").glob("*/*")) == sorted(
        p.relative_to(cwd / "outputs" / "multirun") for p in folders.values()
    )
    assert folders["4 jobs"] != folders["2 jobs"]
    for name, sweep_dir in folders.items():
        jobs = _jobs(sweep_dir)
        assert len(jobs) == int(name[0])
        for job in jobs:
            assert read_metrics(job)["status"] == "completed"
            announced = [line.split("Run folder: ")[1] for line in (job / "train.log").read_text().splitlines() if "Run folder: " in line]
            assert len(announced) == 2 and all(line.startswith(str(job)) for line in announced)  # one run's log: its start and end
        swept = {item.split("=")[0] for item in yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]["overrides"]["task"]}
        assert ("model" in swept) == (name == "4 jobs")  # each sweep's own record


def test_a_sweep_never_writes_into_a_folder_holding_another_sweep(two_sweeps: tuple) -> None:
    cwd, _, folders = two_sweeps
    taken = folders["2 jobs"]
    before = {path: path.stat().st_mtime_ns for path in taken.rglob("*")}
    result = run_cli("train", "-m", "model.hidden_size=4,8", *SHORT, f"hydra.sweep.dir={taken}", cwd=cwd, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: hydra.sweep.dir={taken}: belongs to another sweep")
    assert {path: path.stat().st_mtime_ns for path in taken.rglob("*")} == before  # not a byte written there


def test_a_sweep_folder_is_claimed_once_and_a_folder_holding_a_run_is_refused(tmp_path: Path) -> None:
    """The check Hydra calls before it writes anything into a sweep folder: the first sweep gets a new folder, a
    second one given it (at once or later) is refused, and so is a folder of files from before (an older sweep, a run)."""
    sweep = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "new")}}})
    CheckRunFolder().on_multirun_start(sweep)
    with pytest.raises(SystemExit, match=f"^Error: hydra.sweep.dir={tmp_path / 'new'}: belongs to another sweep"):
        CheckRunFolder().on_multirun_start(sweep)
    (tmp_path / "old" / "0").mkdir(parents=True)
    (tmp_path / "old" / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(SystemExit, match=f"^Error: hydra.sweep.dir={tmp_path / 'old'}: already holds 0, multirun.yaml from another run"):
        CheckRunFolder().on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "old")}}}))
    assert sorted(path.name for path in (tmp_path / "old").iterdir()) == ["0", "multirun.yaml"]  # left as it was


def hparams_tab(logdir: Path, sessions: int) -> list[dict]:
    """The HPARAMS tab's columns as TensorBoard serves them to its own page, once ``sessions`` runs are loaded:
    ``tensorboard --logdir`` on 127.0.0.1, the hparams plugin's ``experiment`` endpoint asked as the page asks."""
    with tensorboard_server(logdir) as url:
        plugin = f"{url}/data/plugin/hparams"
        deadline, loaded = time.monotonic() + 60, 0
        while loaded < sessions:
            assert time.monotonic() < deadline, f"tensorboard: {loaded} of {sessions} runs loaded"
            time.sleep(0.5)
            loaded = post_json(
                f"{plugin}/session_groups",
                {
                    "experimentName": "",
                    "startIndex": 0,
                    "sliceSize": 100,
                    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                },
            ).get("totalSize", 0)
        return post_json(f"{plugin}/experiment", {"experimentName": "", "hparamsLimit": 1000})["hparamInfos"]


def test_hparams_tab_of_a_sweep_shows_what_varied_first(two_sweeps: tuple) -> None:
    _, _, folders = two_sweeps
    columns = hparams_tab(folders["4 jobs"], sessions=4)
    varied = {"choice/model", "model/cell", "model/hidden_size"}  # model=rnn,gru sets model.cell
    assert {column["name"] for column in columns if column.get("differs")} == varied  # nothing that was equal everywhere
    # The page orders columns by `differs` (stable) and ticks the first five: those are on the first screen.
    first_screen = [column["name"] for column in sorted(columns, key=lambda column: not column.get("differs", False))][:5]
    assert set(first_screen[:3]) == varied
    hidden_size = next(column for column in columns if column["name"] == "model/hidden_size")
    assert (hidden_size["domainInterval"]["minValue"], hidden_size["domainInterval"]["maxValue"]) == (8, 16)


# --- the Optuna direction follows monitor.mode (issue 23.3) ---

TEXT_CSV = ["data=text_csv", f"data.path={FIXTURES / 'text' / 'reviews.csv'}", "data.text_column=review", "data.label_column=sentiment"]


def test_optuna_search_on_accuracy_maximizes_it(tmp_path: Path) -> None:
    """`hparams_search=sine_optuna data=text_csv`: val/acc (monitor.mode=max) is maximized, the best trial is the highest."""
    pytest.importorskip("optuna", reason="needs the sweep extra: pip install -e '.[sweep]'")
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "hparams_search=sine_optuna", *TEXT_CSV, "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", f"hydra.sweep.dir={sweep_dir}")
    assert "study sine_optuna in memory, to maximize" in result.stdout + result.stderr  # the sweeper's own account of its study
    trials = [read_metrics(job) for job in _jobs(sweep_dir)]
    assert [trial["monitor"] for trial in trials] == ["val/acc", "val/acc"]
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(trial["objective"] for trial in trials))


def test_optuna_direction_against_monitor_mode_is_refused_naming_both_keys() -> None:
    """What Hydra calls before the sweeper asks for its first trial, on the real conf/."""
    pytest.importorskip("optuna", reason="needs the sweep extra: pip install -e '.[sweep]'")
    disagreeing = compose_train("hparams_search=sine_optuna", *TEXT_CSV, "hydra.sweeper.direction=minimize")
    with pytest.raises(
        SystemExit,
        match=r"^Error: hydra\.sweeper\.direction=minimize disagrees with monitor\.mode=max "
        r"\(monitor\.metric=val/acc\).*set hydra\.sweeper\.direction=maximize",
    ):
        CheckSweepDirection().on_multirun_start(disagreeing)
    CheckSweepDirection().on_multirun_start(compose_train("hparams_search=sine_optuna", *TEXT_CSV))  # the default follows


def test_a_job_whose_data_refuses_a_value_records_the_datas_own_message(tmp_path: Path) -> None:
    # the DataModule's constructor raises: Hydra wraps that in "Error in call to target ...", which the record drops
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", "data.target=sin2cos,bogus", "debug=fast_dev_run", "logger=none", f"hydra.sweep.dir={sweep_dir}", check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert f"{sweep_dir / '1'}: data.target=bogus debug=fast_dev_run logger=none: DataError: data.target must be one of" in result.stderr
    assert read_metrics(sweep_dir / "1")["error"].startswith("DataError: data.target must be one of")
    assert "Error in call to target" not in result.stdout + result.stderr
