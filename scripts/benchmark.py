"""Training speed of seqexp against a hand-written PyTorch loop, and start-up time of the CLI.

    python scripts/benchmark.py                       # every case, CPU, fp32
    python scripts/benchmark.py --cases seed --repeats 9 --threads 1
    python scripts/benchmark.py --device cuda --precision bf16-mixed --out gpu_bf16.json

Cases: seed (the seeds' LSTM 1->32, window 20, batch 64, 8 chunks per step), realistic (2-layer LSTM 128, window
100, batch 128), text and text_unbucketed (data=text with and without length bucketing; they also
report the padding share and tokens/s), anomaly (data=anomaly, forecast mode), short (a whole fit of the
airline job as users run it, every default on, 30 epochs of 2 steps: per-epoch fixed costs; it reports fit
CPU-seconds of A, B and C below, each over the same 30 epochs with a validation pass after each, and steps
per CPU-second against A).

For each case, one process alternates (A B C A B C ...) between
  A. a hand-written loop: plain ``nn.Embedding``/``nn.LSTM``/``nn.Linear``, Adam with the same
     settings, over the case's batches built once in memory (no data loading: the limit);
  B. seqexp's training path exactly as ``python -m seqexp.train`` builds it: the real ``conf/``
     composed with Hydra's compose API and instantiated by ``seqexp.train.build`` (default
     Trainer, callbacks, progress bar and TensorBoard logger), fit for one short epoch.
  C. the same task and data in a bare ``L.Trainer`` (no logger, callbacks, checkpointing,
     progress bar or summary): Lightning's own per-step cost, the floor that B cannot go under
     while it trains through Lightning's loop.
Both are timed over the same number of steady-state steps after a few warm-up steps. For seqexp
the window runs from the start of batch ``warmup`` to the start of batch ``warmup + steps``, so
it holds everything done per step: fetching, hooks, logging, progress bar, periodic checkpoints;
not the once-per-fit costs (sanity check, validation, end-of-epoch checkpoint), which ``fit_s``
reports. Medians over the repeats damp the noise of a shared machine; ``--threads 1`` keeps a
busy 2-core machine from oversubscribing its cores (torch's intra-op threads then wait on each
other and small models slow down many times over). The start-up check times ``python -m
seqexp.train trainer.fast_dev_run=true`` against ``python -c "import lightning"``, interleaved.
A case whose data cannot be built here (e.g. the text corpus is not installed) is skipped, with
the reason in the JSON.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from _compose import compose_train
from bench_report import meta, print_table, write_report
from hand_loop import Batch, clock, hand_written_steps_per_s, rates, synchronize
from seqexp.builder import build
from startup_time import startup


@dataclass(frozen=True)
class Case:
    """One benchmarked configuration: CLI overrides and how many steps to time."""

    name: str
    description: str
    overrides: tuple[str, ...]
    steps: int
    warmup: int = 5


CASES: dict[str, Case] = {
    "seed": Case(
        "seed",
        "the seeds' model: LSTM 1->32 + Linear, window 20, batch 64, stateful, 8 batches per Lightning step "
        "(experiment=seed_lstm_sin2cos data.batch_size=64; the preset's data.chunks_per_batch=8)",
        ("experiment=seed_lstm_sin2cos", "data.batch_size=64"),  # the batch; the preset now uses 8 streams
        steps=150,
    ),
    "realistic": Case(
        "realistic",
        "2-layer LSTM hidden 128 (model=stacked), window 100, batch 128, shuffled sine",
        ("model=stacked", "model.hidden_size=128", "data.window_length=100", "data.batch_size=128"),
        steps=10,
        warmup=2,
    ),
    "text": Case(
        "text",
        "text classification (data=text, Rotten Tomatoes): embedding 128, LSTM 64, max pooling (task.pooling=max), batch 64, length-bucketed",
        ("data=text", "task.pooling=max"),  # pinned: the text preset may change its pooling
        steps=20,
        warmup=3,
    ),
    "text_unbucketed": Case(
        "text_unbucketed",
        "as text, with data.bucketing.enabled=false (random batches, more padding)",
        ("data=text", "task.pooling=max", "data.bucketing.enabled=false"),
        steps=20,
        warmup=3,
    ),
    "anomaly": Case(
        "anomaly",
        "anomaly detection (data=anomaly, forecast mode): LSTM 2->64, window 32, batch 64",
        ("data=anomaly",),
        steps=50,
    ),
    "large": Case(
        "large",
        "4-layer LSTM hidden 512, window 200, batch 256, shuffled sine (a GPU case: minutes per repeat on a CPU)",
        ("model=stacked", "model.num_layers=4", "model.hidden_size=512", "data.window_length=200", "data.batch_size=256", "data.num_windows.train=8192"),
        steps=20,
        warmup=3,
    ),
}
# A whole short fit rather than steady-state steps: the airline job as users run it (every default callback,
# logger and figures on), a fixed 30 epochs of 2 steps, validated each epoch. Per-epoch fixed costs dominate.
# data.budget=null: composed here, trainer.max_epochs is not "typed", so the budget would win; null gives what the
# typed key gives on the command line (30 epochs, patience 10, figures every 5 epochs but at most every
# callbacks.figures.min_interval_s: in a fit of about a second, once, after the last epoch).
SHORT_OVERRIDES = ("data=series", "data.name=airline", "data.input_length=24", "data.horizon=12", "data.budget=null", "trainer.max_epochs=30")
CASES["short"] = Case(
    "short",
    "whole fit of the airline job (data=series data.name=airline data.input_length=24 data.horizon=12), all defaults "
    "on, 30 epochs of 2 optimizer steps validated each epoch: fit CPU-seconds",
    SHORT_OVERRIDES,
    steps=60,
)
CPU_CASES = [name for name in CASES if name != "large"]  # the default --cases


def compose_case(case: Case, args: argparse.Namespace, output_dir: Path, compile_encoder: bool = False) -> DictConfig:
    """The train config for ``case``, trimmed to one epoch just long enough for the timed steps."""
    batches_needed = case.warmup + args_steps(case, args) + 1  # of one optimizer step each; see timed_batches for chunks
    overrides = [
        *case.overrides,
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
        f"trainer.precision={args.precision}",
        "trainer.max_epochs=1",
        f"trainer.limit_train_batches={batches_needed}",
        f"paths.output_dir={output_dir}",
    ]
    if compile_encoder:
        overrides.append("model.compile=true")
    cfg = compose_train(overrides)
    chunks = cfg.data.get("chunks_per_batch", 1)
    if chunks > 1:  # data.chunks_per_batch: each loader batch takes `chunks` optimizer steps
        _, last, _ = timed_batches(case, args, chunks)
        cfg.trainer.limit_train_batches = batches_needed = last + 1
    if "num_windows" in cfg.data:  # enough windows for one epoch of the timed steps (whole chunked batches)
        cfg.data.num_windows.train = max(cfg.data.num_windows.train, batches_needed * chunks * cfg.data.batch_size)
    return cfg


def args_steps(case: Case, args: argparse.Namespace) -> int:
    return args.steps if args.steps else case.steps


def timed_batches(case: Case, args: argparse.Namespace, chunks: int) -> tuple[int, int, int]:
    """The loader batches whose starts bound the timed window, and the optimizer steps between them: with
    ``data.chunks_per_batch`` > 1 each batch takes ``chunks`` steps, so the window covers about as many steps."""
    first = -(-case.warmup // chunks)
    timed = max(round(args_steps(case, args) / chunks), 1)
    return first, first + timed, timed * chunks


# ---------------------------------------------------------------- B: seqexp as the CLI builds it


class StepTimer(L.Callback):
    """Marks the start of two training batches; everything between them is per-step cost."""

    def __init__(self, first: int, last: int, device: torch.device) -> None:
        self.first, self.last, self.device = first, last, device
        self.marks: dict[int, tuple[float, float]] = {}

    def on_train_batch_start(self, trainer: L.Trainer, task: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx in (self.first, self.last):
            synchronize(self.device)
            self.marks[batch_idx] = clock()


def seqexp_steps_per_s(cfg: DictConfig, case: Case, args: argparse.Namespace) -> tuple[float, float, float]:
    """Steady-state (optimizer) steps per wall and CPU second of ``trainer.fit``, and the wall time of the whole (one-epoch) fit."""
    first, last, steps = timed_batches(case, args, cfg.data.get("chunks_per_batch", 1))
    datamodule, task, trainer = build(cfg)
    timer = StepTimer(first, last, torch.device(args.device))
    trainer.callbacks.append(timer)
    started = time.perf_counter()
    trainer.fit(task, datamodule=datamodule)
    fit_s = time.perf_counter() - started
    if len(timer.marks) < 2:
        raise RuntimeError(f"case {case.name!r}: one epoch holds fewer than {last + 1} batches; pass fewer --steps")
    return (*rates(steps, timer.marks[first], timer.marks[last]), fit_s)


# ---------------------------------------------------------------- C: the same task in a bare Trainer


def bare_lightning_steps_per_s(cfg: DictConfig, case: Case, args: argparse.Namespace) -> tuple[float, float]:
    """Steady-state steps/s of the same task and data in a Trainer with every extra off: Lightning's own floor."""
    first, last, steps = timed_batches(case, args, cfg.data.get("chunks_per_batch", 1))
    datamodule, task, _ = build(cfg)
    timer = StepTimer(first, last, torch.device(args.device))
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=cfg.trainer.precision,
        max_epochs=1,
        limit_train_batches=cfg.trainer.limit_train_batches,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(task, datamodule=datamodule)
    return rates(steps, timer.marks[first], timer.marks[last])


def prebuilt_batches(cfg: DictConfig, count: int) -> tuple[Any, list[Batch]]:
    """The data spec and ``count`` training batches of the case's DataModule, built once (chunked
    batches, ``data.chunks_per_batch`` > 1, split into their chunks: the hand loop steps once per chunk)."""
    L.seed_everything(cfg.seed, verbose=False)
    datamodule: L.LightningDataModule = instantiate(cfg.data)  # as seqexp.train.build does
    datamodule.setup("fit")
    batches: list[Batch] = []
    chunked = datamodule.spec.chunks_per_batch > 1  # items (chunk, batch, ...)
    for item in datamodule.train_dataloader():
        batches.extend([{name: value[index] for name, value in item.items()} for index in range(len(item["inputs"]))] if chunked else [item])
        if len(batches) >= count:
            break
    return datamodule.spec, batches[:count]


# ---------------------------------------------------------------- running and reporting


def summary(values: list[float], cpu_values: list[float], batch_size: int) -> dict[str, Any]:
    median = statistics.median(values)
    return {
        "steps_per_s": round(median, 2),
        "samples_per_s": round(median * batch_size, 1),
        "repeats_steps_per_s": [round(value, 2) for value in values],
        "cpu_steps_per_s": round(statistics.median(cpu_values), 2),  # steps per second of this process's CPU time
    }


def padding_figures(batches: list[Batch], seqexp_steps_per_s: float) -> dict[str, Any]:
    """Padded batches only: share of padding among the token slots computed, and real tokens per second."""
    if "lengths" not in batches[0]:
        return {}
    real = sum(int(batch["lengths"].sum()) for batch in batches)
    slots = sum(batch["inputs"].shape[0] * batch["inputs"].shape[1] for batch in batches)
    return {"padding_fraction": round(1 - real / slots, 3), "seqexp_tokens_per_s": round(seqexp_steps_per_s * real / len(batches))}


def run_case(case: Case, args: argparse.Namespace, workdir: Path, compile_encoder: bool = False) -> dict[str, Any]:
    label = case.name + (" +compile" if compile_encoder else "")
    print(f"\n=== {label}: {case.description}", flush=True)
    steps = args_steps(case, args)
    cfg = compose_case(case, args, workdir / label.replace(" +", "_") / "prebuild", compile_encoder)
    try:
        spec, batches = prebuilt_batches(cfg, case.warmup + steps)
    except (FileNotFoundError, ImportError) as error:  # e.g. data=text without its corpus installed
        print(f"=== {label}: skipped: {error}", flush=True)
        return {"description": case.description, "skipped": str(error)}
    hand: list[float] = []
    framework: list[float] = []
    bare: list[float] = []
    hand_cpu: list[float] = []
    framework_cpu: list[float] = []
    bare_cpu: list[float] = []
    fit_seconds: list[float] = []
    for repeat in range(args.repeats):  # A B C A B C ...: drifts in machine load hit all alike
        # Each loop starts with no garbage left by the one before: a full collection scans every object the process
        # holds (0.2 s here), and one falling inside a timed window of text's 20 steps moved its ratio by 0.15.
        gc.collect()
        steps_per_s, cpu_steps_per_s = hand_written_steps_per_s(
            cfg, spec, batches, case.warmup, args_steps(case, args), torch.device(args.device), args.precision
        )
        hand.append(steps_per_s)
        hand_cpu.append(cpu_steps_per_s)
        run_cfg = compose_case(case, args, workdir / label.replace(" +", "_") / f"run{repeat}", compile_encoder)
        gc.collect()
        steps_per_s, cpu_steps_per_s, fit_s = seqexp_steps_per_s(run_cfg, case, args)
        framework.append(steps_per_s)
        framework_cpu.append(cpu_steps_per_s)
        fit_seconds.append(fit_s)
        gc.collect()
        steps_per_s, cpu_steps_per_s = bare_lightning_steps_per_s(cfg, case, args)
        bare.append(steps_per_s)
        bare_cpu.append(cpu_steps_per_s)
    batch_size = cfg.data.batch_size
    padding = padding_figures(batches, statistics.median(framework))
    result = {
        "description": case.description,
        "overrides": list(case.overrides) + (["model.compile=true"] if compile_encoder else []),
        "batch_size": batch_size,
        "warmup_steps": case.warmup,
        "timed_steps": timed_batches(case, args, cfg.data.get("chunks_per_batch", 1))[2],
        "chunks_per_batch": cfg.data.get("chunks_per_batch", 1),
        "hand_written": summary(hand, hand_cpu, batch_size),
        "seqexp": {**summary(framework, framework_cpu, batch_size), "fit_s": round(statistics.median(fit_seconds), 3)},
        "bare_lightning": summary(bare, bare_cpu, batch_size),
        "ratio": round(statistics.median(framework) / statistics.median(hand), 3),
        "ratio_bare_lightning": round(statistics.median(bare) / statistics.median(hand), 3),  # Lightning's floor
        "ratio_cpu": round(statistics.median(framework_cpu) / statistics.median(hand_cpu), 3),
        "ratio_per_repeat": [round(b / a, 3) for a, b in zip(hand, framework)],
        **padding,
    }
    print(
        f"=== {label}: hand-written {result['hand_written']['steps_per_s']} steps/s, "
        f"seqexp {result['seqexp']['steps_per_s']} steps/s, ratio {result['ratio']} (CPU time: {result['ratio_cpu']}); "
        f"bare Lightning {result['bare_lightning']['steps_per_s']} steps/s, ratio {result['ratio_bare_lightning']}",
        flush=True,
    )
    return result


# ---------------------------------------------------------------- the short case: whole fits


def hand_short_fit(cfg: DictConfig, datamodule: L.LightningDataModule, device: torch.device) -> tuple[int, float]:
    """The hand-written loop over the same epochs: train on every batch, then a no-grad validation pass."""
    torch.manual_seed(cfg.seed)
    model = nn.LSTM if cfg.model.cell == "lstm" else {"gru": nn.GRU, "rnn": nn.RNN}[cfg.model.cell]
    spec = datamodule.spec
    rnn = model(spec.input_size, cfg.model.hidden_size, cfg.model.num_layers, batch_first=True).to(device)
    head = nn.Linear(cfg.model.hidden_size, spec.horizon * spec.output_size).to(device)
    parameters = [*rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay)

    def loss(batch: Batch) -> torch.Tensor:
        outputs, _ = rnn(batch["inputs"].to(device))
        return nn.functional.mse_loss(head(outputs[:, -1]).view_as(batch["targets"]), batch["targets"].to(device))

    train, val = list(datamodule.train_dataloader()), list(datamodule.val_dataloader())
    steps, started = 0, time.process_time()
    for _ in range(cfg.trainer.max_epochs):
        for batch in train:
            optimizer.zero_grad(set_to_none=True)
            loss(batch).backward()
            optimizer.step()
            steps += 1
        with torch.no_grad():
            sum(float(loss(batch)) for batch in val)
    synchronize(device)
    return steps, time.process_time() - started


def seqexp_short_fit(cfg: DictConfig) -> tuple[int, float]:
    datamodule, task, trainer = build(cfg)
    started = time.process_time()
    trainer.fit(task, datamodule=datamodule)
    return trainer.global_step, time.process_time() - started


def bare_short_fit(cfg: DictConfig) -> tuple[int, float]:
    """The same task, data and epochs in a Trainer with every extra off (validation each epoch kept)."""
    datamodule, task, _ = build(cfg)
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=cfg.trainer.precision,
        max_epochs=cfg.trainer.max_epochs,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    started = time.process_time()
    trainer.fit(task, datamodule=datamodule)
    return trainer.global_step, time.process_time() - started


def short_summary(runs: list[tuple[int, float]], batch_size: int) -> dict[str, Any]:
    cpu_s = statistics.median(seconds for _, seconds in runs)
    steps = runs[0][0]
    return {
        "steps": steps,
        "fit_cpu_s": round(cpu_s, 3),
        "repeats_fit_cpu_s": [round(seconds, 3) for _, seconds in runs],
        # steps_per_s here is per CPU second too (whole fits: the table's columns read the same)
        "steps_per_s": round(steps / cpu_s, 2),
        "cpu_steps_per_s": round(steps / cpu_s, 2),
        "samples_per_s": round(steps / cpu_s * batch_size, 1),
    }


def run_short(case: Case, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    print(f"\n=== {case.name}: {case.description}", flush=True)
    device = torch.device(args.device)
    overrides = [*case.overrides, f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}", f"trainer.precision={args.precision}"]
    hand: list[tuple[int, float]] = []
    framework: list[tuple[int, float]] = []
    bare: list[tuple[int, float]] = []
    for repeat in range(args.repeats):  # A B C A B C ...
        cfg = compose_train([*overrides, f"paths.output_dir={workdir / case.name / f'hand{repeat}'}"])
        L.seed_everything(cfg.seed, verbose=False)
        datamodule: L.LightningDataModule = instantiate(cfg.data)
        datamodule.setup("fit")
        gc.collect()  # each fit starts with no garbage left by the one before (see run_case)
        hand.append(hand_short_fit(cfg, datamodule, device))
        framework_cfg = compose_train([*overrides, f"paths.output_dir={workdir / case.name / f'run{repeat}'}"])
        gc.collect()
        framework.append(seqexp_short_fit(framework_cfg))
        bare_cfg = compose_train([*overrides, f"paths.output_dir={workdir / case.name / f'bare{repeat}'}"])
        gc.collect()
        bare.append(bare_short_fit(bare_cfg))
    batch_size = cfg.data.batch_size
    result = {
        "description": case.description,
        "overrides": list(overrides),
        "batch_size": batch_size,
        "hand_written": short_summary(hand, batch_size),
        "seqexp": short_summary(framework, batch_size),
        "bare_lightning": short_summary(bare, batch_size),
    }
    hand_rate = result["hand_written"]["cpu_steps_per_s"]
    result["ratio"] = result["ratio_cpu"] = round(result["seqexp"]["cpu_steps_per_s"] / hand_rate, 3)
    result["ratio_bare_lightning"] = round(result["bare_lightning"]["cpu_steps_per_s"] / hand_rate, 3)
    print(
        f"=== {case.name}: fit CPU-s hand-written {result['hand_written']['fit_cpu_s']}, seqexp {result['seqexp']['fit_cpu_s']}, "
        f"bare Lightning {result['bare_lightning']['fit_cpu_s']} ({result['seqexp']['steps']} steps); steps per CPU-second "
        f"ratio to the hand loop: seqexp {result['ratio']}, bare Lightning {result['ratio_bare_lightning']}",
        flush=True,
    )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CPU_CASES), help=f"comma-separated, from {list(CASES)}")
    parser.add_argument("--repeats", type=int, default=5, help="A/B pairs per case; the median is reported")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per repeat (0 = each case's default)")
    parser.add_argument("--startup-repeats", type=int, default=3, help="start-up pairs; 0 skips the start-up check")
    parser.add_argument("--compile", action="store_true", help="also time every case with model.compile=true")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads for both loops (0 = torch's default)")
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"), help="where the JSON figures go")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases.split(",")) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {unknown}; choose from {list(CASES)}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"meta": meta(args), "cases": {}}
    with tempfile.TemporaryDirectory(prefix="seqexp-benchmark-") as tmp:
        workdir = Path(tmp)
        for name in args.cases.split(","):
            if name == "short":
                report["cases"][name] = run_short(CASES[name], args, workdir)
                write_report(report, args.out)
                continue
            report["cases"][name] = run_case(CASES[name], args, workdir)
            if args.compile:
                report["cases"][f"{name}+compile"] = run_case(CASES[name], args, workdir, compile_encoder=True)
            write_report(report, args.out)  # figures so far, should a later case fail
        if args.startup_repeats > 0:
            report["startup"] = startup(args, workdir)
    write_report(report, args.out)
    print_table(report)
    print(f"figures written to {args.out}")
    return report


if __name__ == "__main__":
    main()
