"""DDP on 2 CPU processes (gloo), always through the CLI in a subprocess: Lightning's launcher re-runs
the command line for rank 1, which must never happen inside pytest."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, free_port, read_metrics, run_cli
from seqexp.builder import build
from seqexp.config import ConfigError
from seqexp.distributed import _job_command_line, prepare_ranks
from seqexp.tasks import RegressionTask

TESTS_DIR = Path(__file__).parent
TINY_SINE = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64"]
DDP_RUN = ["trainer=ddp_cpu", "data=sine", "model=gru", "trainer.max_epochs=1", *TINY_SINE]


class RowRecorder(L.Callback):
    """Saves the input windows each rank trained on, so the test can check the shards."""

    def __init__(self, folder: str) -> None:
        self.folder, self.rows = Path(folder), []

    def on_train_batch_start(self, trainer: L.Trainer, task: L.LightningModule, batch: dict, batch_idx: int) -> None:
        self.rows.append(batch["inputs"].detach().clone())

    def on_train_epoch_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        torch.save(torch.cat(self.rows), self.folder / f"rows_rank{trainer.global_rank}.pt")


def _row_counts(windows: torch.Tensor) -> Counter:
    return Counter(window.numpy().tobytes() for window in windows)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`python -m seqexp.train trainer=ddp_cpu data=sine model=gru ...` in a fresh folder, run folder from Hydra."""
    cwd = tmp_path_factory.mktemp("ddp")
    probe = ["+callbacks.row_recorder._target_=test_ddp.RowRecorder", f"+callbacks.row_recorder.folder={cwd}"]
    run_cli("train", *DDP_RUN, *probe, cwd=cwd, env={"PYTHONPATH": str(TESTS_DIR)})
    return cwd, next((cwd / "outputs").glob("*/*"))


@pytest.mark.slow
def test_ddp_ranks_share_one_run_folder_and_both_train(ddp_run: tuple[Path, Path]) -> None:
    cwd, run_dir = ddp_run
    assert [p.relative_to(cwd) for p in (cwd / "outputs").glob("*/*")] == [run_dir.relative_to(cwd)]  # no stray run folders
    assert (run_dir / "train_ddp_process_1.log").is_file()  # rank 1 ran in rank 0's folder
    summary = read_metrics(run_dir)
    assert summary["status"] == "completed" and summary["world_size"] == 2
    assert summary["global_step"] == 2  # 256 windows / 2 ranks / batch 64 = 2 steps, not 4
    assert math.isfinite(summary["metrics"]["test/mse"])


@pytest.mark.slow
def test_ddp_each_training_window_is_seen_once_per_epoch(ddp_run: tuple[Path, Path]) -> None:
    cwd, _ = ddp_run
    rank_rows = [torch.load(cwd / f"rows_rank{rank}.pt") for rank in (0, 1)]
    assert [len(rows) for rows in rank_rows] == [128, 128]
    datamodule = instantiate(compose_train(*DDP_RUN).data)
    datamodule.setup("fit")
    assert _row_counts(torch.cat(rank_rows)) == _row_counts(datamodule.datasets["train"].tensors["inputs"])


@pytest.mark.slow
def test_ddp_test_metric_is_synced_over_both_ranks(ddp_run: tuple[Path, Path]) -> None:
    """Each rank tests half the windows; the recorded test/mse must be the whole test set's."""
    _, run_dir = ddp_run
    summary = read_metrics(run_dir)
    task = RegressionTask.load_from_checkpoint(summary["best_model_path"], map_location="cpu")
    datamodule = instantiate(compose_train(*DDP_RUN).data)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    (single_process,) = trainer.test(task, datamodule=datamodule, verbose=False)
    assert summary["metrics"]["test/mse"] == pytest.approx(single_process["test/mse"], rel=1e-5)


@pytest.mark.slow
def test_ddp_eval_of_a_split_that_does_not_divide_among_the_ranks_says_cases_repeat(ddp_run: tuple[Path, Path]) -> None:
    # 65 test windows on 2 ranks: Lightning's DistributedSampler repeats one, so test/mse is off (silently, before)
    cwd, run_dir = ddp_run
    best = read_metrics(run_dir)["best_model_path"]
    odd = [f"ckpt_path={best}", "+data.num_windows.test=65"]
    result = run_cli("eval", *odd, "trainer=ddp_cpu", run_dir=cwd / "eval_odd", cwd=cwd)
    output = result.stdout + result.stderr
    assert "the test split's 65 cases do not divide among 2 ranks: Lightning's DistributedSampler repeats 1 of them" in output
    assert "it is recommended to use `Trainer(devices=1" not in output  # Lightning's general warning gives way to the count
    run_cli("eval", *odd, "trainer=ddp_cpu", "trainer.devices=1", run_dir=cwd / "eval_one", cwd=cwd)  # what the warning suggests
    exact, repeated = (read_metrics(cwd / name)["metrics"]["test/mse"] for name in ("eval_one", "eval_odd"))
    task = RegressionTask.load_from_checkpoint(best, map_location="cpu")
    datamodule = instantiate(compose_train(*DDP_RUN, "data.num_windows.test=65").data)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    (single_process,) = trainer.test(task, datamodule=datamodule, verbose=False)
    assert exact == pytest.approx(single_process["test/mse"], rel=1e-6) and repeated != pytest.approx(exact, rel=1e-6)


@pytest.mark.slow
def test_ddp_only_rank_zero_writes_tensorboard_and_figures(ddp_run: tuple[Path, Path]) -> None:
    _, run_dir = ddp_run
    event_files = sorted((run_dir / "tensorboard").glob("events.out.tfevents.*"))  # name: ...<time>.<host>.<pid>.<n>
    assert len({path.name.split(".")[-2] for path in event_files}) == 1  # one writing process
    images = set()
    for path in event_files:
        events = EventAccumulator(str(path), size_guidance={"images": 0})
        events.Reload()
        images |= set(events.Tags()["images"])
    assert images == {"val/prediction_vs_target", "test/prediction_vs_target"}


@pytest.mark.slow
def test_ddp_run_writes_each_test_prediction_once_in_order(ddp_run: tuple[Path, Path]) -> None:
    """Each rank predicts a share of the test split; rank 0 gathers the shares and writes them in the data's order."""
    _, run_dir = ddp_run
    rows = (run_dir / "predictions" / "test.csv").read_text().splitlines()
    assert rows[0] == "window,step,prediction,truth"
    assert [int(row.split(",")[0]) for row in rows[1:]] == [window for window in range(64) for _ in range(20 - 3)]


@pytest.mark.slow
def test_ddp_inside_a_multirun_runs_each_job_in_its_folder(tmp_path: Path) -> None:
    run_cli("train", "-m", *DDP_RUN, "model=rnn,gru", "logger=none", cwd=tmp_path)
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == ["multirun"]  # no single-run folders from the ranks
    (sweep_dir,) = (tmp_path / "outputs" / "multirun").glob("*/*")  # the ranks did not start sweeps of their own
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    for job in jobs:
        summary = read_metrics(job)
        assert summary["status"] == "completed" and summary["world_size"] == 2
        assert (job / "train_ddp_process_1.log").is_file()


def test_stateful_data_refuses_ddp_before_training(tmp_path: Path) -> None:
    """Built in-process: instantiating a DDP Trainer starts no processes; only fit would."""
    cfg = compose_train("trainer=ddp_cpu", "data.stateful=true", "data.shuffle=false", f"paths.output_dir={tmp_path}", *TINY_SINE)
    datamodule, _, trainer = build(cfg)
    with pytest.raises(ConfigError, match=r"data\.stateful=true cannot run with 2 processes \(trainer\.strategy=DDPStrategy\)"):
        prepare_ranks(trainer, datamodule.spec)
    assert not list(tmp_path.rglob("*.ckpt"))


def test_sweep_job_command_line_keeps_flags_and_takes_the_jobs_overrides() -> None:
    argv = ["train.py", "-m", "--config-dir", "/my/conf", "model=rnn,gru", "-cn", "train", "trainer=ddp_cpu"]
    assert _job_command_line(argv, ["model=gru", "trainer=ddp_cpu"]) == [
        "train.py",
        "--config-dir",
        "/my/conf",
        "-cn",
        "train",
        "model=gru",
        "trainer=ddp_cpu",
        "hydra.mode=RUN",
    ]


def test_ddp_refuses_a_launcher_that_cannot_start_its_ranks(tmp_path: Path) -> None:
    """A joblib worker is not the CLI: Lightning could not re-run it for rank 1."""
    cfg = compose_train("trainer=ddp_cpu", "hydra/launcher=joblib", "hydra.mode=MULTIRUN", f"paths.output_dir={tmp_path}", *TINY_SINE)
    datamodule, _, trainer = build(cfg)
    HydraConfig.instance().set_config(cfg)
    try:
        with pytest.raises(ConfigError, match=r"hydra/launcher=joblib cannot host: use the basic launcher"):
            prepare_ranks(trainer, datamodule.spec)
    finally:
        HydraConfig.instance().cfg = None


@pytest.mark.slow
def test_two_nodes_under_torchrun_match_ddp_cpu(tmp_path: Path) -> None:
    """The README's multi-node recipe, as two nodes on 127.0.0.1: the same command under torchrun on each
    node, one hydra.run.dir. Both ranks finish, share one run folder, and equal a trainer=ddp_cpu run."""
    same = [*DDP_RUN, "trainer.max_epochs=2", "trainer.deterministic=true", "model.hidden_size=8"]
    port, run_dir = free_port(), tmp_path / "nodes"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                f"--node-rank={rank}",
                "--nproc-per-node=1",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                "-m",
                "seqexp.train",
                *same,
                "trainer.devices=1",
                "trainer.num_nodes=2",
                f"hydra.run.dir={run_dir}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(output[-3000:] for output in outputs)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["nodes"]  # one run folder, no stray outputs/
    run_cli("train", *same, run_dir=tmp_path / "ddp_cpu")
    on_nodes, on_one_machine = read_metrics(run_dir), read_metrics(tmp_path / "ddp_cpu")
    assert on_nodes["world_size"] == on_one_machine["world_size"] == 2
    assert on_nodes["metrics"] == pytest.approx(on_one_machine["metrics"], rel=1e-6)
