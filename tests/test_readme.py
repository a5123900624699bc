"""Every ``python -m seqexp...`` command in the README's code blocks, run as written.

Only what makes a run short is appended (one epoch of two batches); the defaults a user gets stay on
(progress bar, TensorBoard logger, figures, checkpoints). Placeholders (``<run>``, ``<date>/<time>``,
``<same overrides>``, ``<series run>`` and the other run folders of ``RUN_PLACEHOLDERS``) are filled
with what earlier commands produced, and the user's files the README names (``reviews.jsonl``,
``plant.csv``, ...) are made in the working folder. The commands run two at a time (the machine has
two cores). When the README changes, these tests follow it.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SHORT = {"trainer.max_epochs": "1", "trainer.limit_train_batches": "2", "trainer.limit_val_batches": "2", "trainer.limit_test_batches": "2"}
# Run folders of earlier README train commands, each named by a part of the command that made it.
RUN_PLACEHOLDERS = {
    "<sine run>": "experiment=seed_rnn_sin2cos",
    "<series run>": "data.path=sales.csv",
    "<anomaly run>": "data.path=plant.csv",
    "<ucr run>": "data.train_path=Mine_TRAIN.ts",
}
PLACEHOLDERS = ("<run>", "<date>/<time>", "<same overrides>", *RUN_PLACEHOLDERS)


def readme_commands() -> list[str]:
    """The README's indented code lines that start with ``python -m seqexp``, without trailing comments."""
    lines = re.findall(r"^ {4,}(python -m seqexp\..*)$", (REPO / "README.md").read_text(), flags=re.M)
    return [line.split("  #")[0].strip() for line in lines]


def is_sweep(command: str) -> bool:
    return "-m" in shlex.split(command)[3:]  # after `python -m seqexp.<entry>`


def needs_gpu(command: str) -> bool:
    return "trainer=gpu" in command or ("trainer=ddp " in f"{command} " and "trainer=ddp_cpu" not in command)


@dataclass
class Result:
    command: str
    argv: list[str]
    returncode: int | None = None
    output: str = ""
    folder: Path | None = None
    skipped: str = ""
    extra: dict = field(default_factory=dict)


def write_user_files(folder: Path) -> None:
    """The files the README's commands name, small and well formed."""
    reviews = (FIXTURES / "text" / "reviews.csv").read_text().splitlines()[1:]
    with open(folder / "reviews.jsonl", "w") as handle:
        for line in reviews:
            text, label = line.rsplit(",", 1)
            handle.write(json.dumps({"review": text.strip('"'), "stars": label}) + "\n")
    (folder / "texts.txt").write_text("a gripping, funny film\na dull mess\n")
    generator = torch.Generator().manual_seed(0)
    points = 1500
    values = torch.sin(torch.arange(points) * 0.2) + 0.1 * torch.randn(points, generator=generator)
    labels = torch.zeros(points, dtype=torch.long)
    for start in (400, 900, 1300):  # one anomaly in each of train, val and test
        values[start : start + 10] += 3.0
        labels[start : start + 10] = 1
    (folder / "plant.csv").write_text(
        "timestamp,value,is_anomaly\n" + "".join(f"{step},{value:.5f},{label}\n" for step, (value, label) in enumerate(zip(values.tolist(), labels.tolist())))
    )
    days = 400
    units = 50 + 10 * torch.sin(torch.arange(days) * 2 * math.pi / 7) + torch.randn(days, generator=generator)
    (folder / "sales.csv").write_text(
        "date,units\n" + "".join(f"{datetime.date(2024, 1, 1) + datetime.timedelta(days=day)},{value:.2f}\n" for day, value in enumerate(units.tolist()))
    )
    shutil.copy(FIXTURES / "ucr" / "Toy_TRAIN.ts", folder / "Mine_TRAIN.ts")
    shutil.copy(FIXTURES / "ucr" / "Toy_TEST.ts", folder / "Mine_TEST.ts")


def shortened(argv: list[str], folder: Path) -> list[str]:
    """A train command with one short epoch appended (keys the command sets itself are left alone)."""
    if argv[2] == "seqexp.eval":
        return [*argv, f"hydra.run.dir={folder}"]
    if argv[2] != "seqexp.train":
        return argv
    keys = {item.split("=", 1)[0] for item in argv[3:]}
    extra = [f"{key}={value}" for key, value in SHORT.items() if key not in keys]
    where = "hydra.sweep.dir" if "-m" in argv[3:] else "hydra.run.dir"
    return [*argv, *extra, f"{where}={folder}"]


def run(result: Result, cwd: Path) -> Result:
    completed = subprocess.run(result.argv, cwd=cwd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    result.returncode, result.output = completed.returncode, completed.stdout + completed.stderr
    return result


def fill(command: str, known: dict[str, str]) -> str:
    for placeholder, value in known.items():
        command = command.replace(placeholder, value)
    return command


@pytest.fixture(scope="module")
def readme_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Runs every README command: first those without placeholders, then those that use their results."""
    cwd = tmp_path_factory.mktemp("readme")
    write_user_files(cwd)
    commands = readme_commands()
    results: dict[str, Result] = {}
    first, then = [], []
    for index, command in enumerate(commands):
        result = Result(command, [])
        results[command] = result
        if needs_gpu(command) and not torch.cuda.is_available():
            result.skipped = "needs a GPU (none here)"
            continue
        result.folder = cwd / f"run_{index}"
        (then if any(mark in command for mark in PLACEHOLDERS) else first).append(result)

    def prepare(result: Result, known: dict[str, str]) -> Result:
        argv = [sys.executable, *shlex.split(fill(result.command, known))[1:]]
        result.argv = shortened(argv, result.folder)
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda r: run(prepare(r, {}), cwd), first))
        main = results[commands[0]]
        text_runs = [r for r in first if "data=text " in f"{r.command} " and not is_sweep(r.command) and r.returncode == 0]
        sweeps = [r for r in first if is_sweep(r.command)]
        known = {
            "<same overrides>": " ".join(shlex.split(main.command)[3:]),
            "<run>": str(text_runs[0].folder) if text_runs else "<no text run>",
            "<date>/<time>": str(sweeps[0].folder.relative_to(cwd)).removeprefix("outputs/multirun/") if sweeps else "",
        }
        for placeholder, part in RUN_PLACEHOLDERS.items():
            made = [r for r in first if "seqexp.train" in r.command and part in r.command and r.returncode == 0]
            known[placeholder] = str(made[0].folder) if made else f"<no run with {part}>"
        # A sweep's folder is given whole: <date>/<time> stands for the part under outputs/multirun/.
        for result in then:
            if "<date>/<time>" in result.command and sweeps:  # the sweep the README shows just before it
                earlier = [r for r in sweeps if commands.index(r.command) < commands.index(result.command)] or sweeps
                result.command = result.command.replace("outputs/multirun/<date>/<time>", str(earlier[-1].folder))
            if "<same overrides>" in result.command:  # resume the main command's run, in its folder
                result.folder = main.folder
                known_for_resume = {**known, "<run>": str(main.folder)}
                result.argv = shortened([sys.executable, *shlex.split(fill(result.command, known_for_resume))[1:]], main.folder)
                result.argv = [item for item in result.argv if item != "trainer.max_epochs=1"] + ["trainer.max_epochs=2"]
            else:
                prepare(result, known)
        exports = [r for r in then if "seqexp.export" in r.command]  # the model files that later commands serve
        list(pool.map(lambda r: run(r, cwd), exports))
        list(pool.map(lambda r: run(r, cwd), [r for r in then if r not in exports]))
    return results


COMMANDS = readme_commands()


def test_the_readme_has_the_main_commands() -> None:
    assert COMMANDS[0] == "python -m seqexp.train model=lstm data=sine"
    assert any("trainer=ddp_cpu" in command for command in COMMANDS)
    assert any(is_sweep(command) for command in COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command: str, readme_runs: dict[str, Result]) -> None:
    result = readme_runs[command]
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.argv, f"{command}: a placeholder this test does not know (it knows {PLACEHOLDERS})"
    assert result.returncode == 0, f"{' '.join(result.argv)} failed:\n{result.output[-6000:]}"
    assert "Traceback" not in result.output, result.output[-6000:]
    assert not [noise for noise in ("Tip:", "LeafSpec", "`srun`") if noise in result.output]  # library noise stays out (srun: .ci/run installs SLURM)
    if "seqexp.train" in command and not is_sweep(command):
        record = json.loads((result.folder / "metrics.json").read_text())
        assert record["status"] == "completed"
        assert all(value is None or math.isfinite(value) for value in record["metrics"].values())
        log = (result.folder / "train.log").read_text()
        assert f"Run folder: {result.folder}" in log and "Final metrics:" in log
        assert "Seed set to" in log and "Trainer.fit` stopped" in log  # Lightning's lines too
        assert list((result.folder / "tensorboard").rglob("events.out.tfevents.*")), "no TensorBoard events"
        assert (result.folder / "checkpoints" / "last.ckpt").is_file()
        assert (result.folder / "predictions" / "test.csv").is_file() and "Wrote " in log
    if "seqexp.eval" in command:
        log = (result.folder / "eval.log").read_text()
        assert f"Run folder: {result.folder}" in log and "Final metrics: test/" in log
        assert json.loads((result.folder / "metrics.json").read_text())["status"] == "completed"
    if is_sweep(command):
        jobs = sorted(result.folder.glob("*/metrics.json"))
        assert jobs and all(json.loads(job.read_text())["status"] == "completed" for job in jobs)
    if "seqexp.summarize" in command:
        assert "Wrote" in result.output and "summary.md" in result.output
    if "output_file=" in command and "seqexp.export" in command:
        output = next(item.split("=", 1)[1] for item in result.argv if item.startswith("output_file="))
        assert f"Wrote {result.folder.parent / output} (ONNX)" in result.output and (result.folder.parent / output).is_file()
    elif "output_file=" in command:
        output = next(item.split("=", 1)[1] for item in result.argv if item.startswith("output_file="))
        count = "2" if "file=texts.txt" in command else r"\d+"  # texts.txt holds two texts
        assert re.search(rf"Wrote {count} predictions to {re.escape(str(result.folder.parent / output))}\n", result.output)
        assert (result.folder.parent / output).stat().st_size > 0
