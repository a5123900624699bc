"""seqexp's short airline fit against darts and neuralforecast, timed in one process and one sitting.

    /tmp/peers-venv/bin/python scripts/short_fit_peers.py              # peers in a venv over the system site packages
    python scripts/short_fit_peers.py --repeats 5 --threads 1 --out short_fit_peers.json

The job is benchmark.py's ``short`` case: the built-in airline series split and scaled as seqexp does it
(``data=series data.name=airline data.input_length=24 data.horizon=12``), an LSTM of hidden size 64 with one
layer, Adam lr 0.005, batch 64 (66 training windows: 2 optimizer steps an epoch), 30 epochs, validated after
each epoch. Each repeat fits, in turn (A B C D E F A B C ...):

  hand            benchmark.py's hand-written loop (``hand_short_fit``): the floor;
  seqexp          ``seqexp_short_fit``: the Trainer, callbacks and logger ``python -m seqexp.train`` builds;
  bare            ``bare_short_fit``: the same task in a Trainer with every extra off;
  darts           ``BlockRNNModel(model="LSTM")`` with the job's settings and darts' defaults otherwise;
  darts_logged    the same with ``log_tensorboard=True, save_checkpoints=True`` (what seqexp does by default);
  neuralforecast  ``LSTM`` with ``max_steps=60, val_check_steps=2`` and its defaults otherwise.

Only the fit is timed (``time.process_time()``), model construction stays outside; the median of the repeats
is reported. One round before the timed ones fits every tool once with counting hooks (no-grad LSTM passes:
validation, sanity check and figures), so the timed fits are warm and the validations are counted. Every
fit's optimizer steps are counted by a global optimizer hook. A peer that does not import is reported as
not installed and skipped.

What differs beyond the tools' defaults (``SETTINGS`` says what each one runs): seqexp's ``build()`` (model,
Trainer, callbacks) runs before its timed fit and is reported apart, while darts builds its module, dataset
and Trainer inside ``fit``, and neuralforecast its dataset and Trainer; neuralforecast samples 64 windows a
step (3,840 window passes against seqexp's and darts' 1,980); darts and neuralforecast read the series
standard-scaled on the train range, while seqexp also centres each window on its last input and adds its
linear skip (the same shapes and steps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from torch.optim.optimizer import register_optimizer_step_post_hook

from _compose import compose_train
from bench_report import meta, write_report
from benchmark import SHORT_OVERRIDES, bare_short_fit, hand_short_fit, seqexp_short_fit

INPUT_LENGTH, HORIZON, HIDDEN, BATCH, EPOCHS, LR = 24, 12, 64, 64, 30, 0.005  # the job; SHORT_OVERRIDES says the same to seqexp
TOOLS = ("hand", "seqexp", "bare", "darts", "darts_logged", "neuralforecast")
PEERS = {"darts": "darts", "darts_logged": "darts", "neuralforecast": "neuralforecast"}  # tool -> package it needs
SETTINGS = {
    "hand": "plain nn.LSTM + nn.Linear and Adam over the DataModule's batches listed once; no-grad validation pass each epoch",
    "seqexp": "every default: TensorBoard logger, best and periodic checkpoints, run guards, early stopping (patience 10), "
    "LR monitor, TQDM progress bar, figures, baselines, model summary; build() (model, Trainer, callbacks) outside the timed fit",
    "bare": "L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)",
    "darts": "BlockRNNModel(model='LSTM', input_chunk_length=24, output_chunk_length=12, hidden_dim=64, n_rnn_layers=1, batch_size=64, "
    "n_epochs=30, optimizer_kwargs={'lr': 0.005}); defaults: MSE loss, no logger (log_tensorboard=False), no checkpoints, "
    "progress bar and model summary on, validation every epoch (nr_epochs_val_period=1), 2 sanity-check batches; float32 series",
    "darts_logged": "as darts, with log_tensorboard=True, save_checkpoints=True (best and last checkpoint each epoch)",
    "neuralforecast": "LSTM(h=12, input_size=24, encoder_n_layers=1, encoder_hidden_size=64, decoder_layers=1, loss=MSE(), max_steps=60, "
    "val_check_steps=2, learning_rate=0.005, windows_batch_size=64); defaults: Lightning's TensorBoard logger, no checkpoints, "
    "progress bar, robust per-window scaler, 64 windows sampled per step",
}


@dataclass(frozen=True)
class Series:
    """The airline series as seqexp scales it (train range's standard scaler), cut into darts' and neuralforecast's inputs."""

    train: np.ndarray  # the train range's rows
    val: np.ndarray  # the val range's rows led by input_length rows of context: the same 11 windows as seqexp's
    train_and_val: np.ndarray  # neuralforecast's frame: it holds the last val_size rows out itself
    val_size: int


@dataclass(frozen=True)
class Fit:
    cpu_s: float  # the fit only
    steps: int  # optimizer steps, counted by the global hook
    build_cpu_s: float | None = None  # seqexp/bare: build() before the timed fit (darts builds its module inside fit)


class Counters:
    """Optimizer steps of any optimizer (always on) and no-grad LSTM forwards (while ``count_eval`` is set)."""

    def __init__(self) -> None:
        self.steps = self.eval_passes = 0
        self.count_eval = False
        register_optimizer_step_post_hook(self._step)
        torch.nn.modules.module.register_module_forward_hook(self._forward)

    def _step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.steps += 1

    def _forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if self.count_eval and isinstance(module, torch.nn.LSTM) and not torch.is_grad_enabled():
            self.eval_passes += 1


def load_series(overrides: list[str]) -> tuple[Any, L.LightningDataModule, Series]:
    cfg = compose_train(overrides)
    L.seed_everything(cfg.seed, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    scaled = datamodule.train_scaler().transform(datamodule.load().values).float().numpy()[:, 0]
    (_, train_end), (val_start, val_end) = datamodule.bounds["train"], datamodule.bounds["val"]
    series = Series(scaled[:train_end], scaled[val_start - INPUT_LENGTH : val_end], scaled[:val_end], val_end - val_start)
    return cfg, datamodule, series


def installed(package: str) -> str | None:
    """The package's version, or None when it does not import."""
    try:
        return __import__(package).__version__
    except ImportError:
        return None


def timed(fit: Callable[[], object], counters: Counters) -> Fit:
    counters.steps = 0
    started = time.process_time()
    fit()
    return Fit(time.process_time() - started, counters.steps)


def run_tool(name: str, repeat: int, workdir: Path, series: Series, counters: Counters) -> Fit:
    """One whole fit of ``name``; construction first, then the timed fit."""
    overrides = [*SHORT_OVERRIDES, "trainer.accelerator=cpu", f"paths.output_dir={workdir / name / str(repeat)}"]
    counters.steps = 0
    if name == "hand":
        cfg, datamodule, _ = load_series(overrides)
        _, cpu_s = hand_short_fit(cfg, datamodule, torch.device("cpu"))
        return Fit(cpu_s, counters.steps)
    if name in ("seqexp", "bare"):
        cfg = compose_train(overrides)
        started = time.process_time()
        _, cpu_s = (seqexp_short_fit if name == "seqexp" else bare_short_fit)(cfg)
        return Fit(cpu_s, counters.steps, time.process_time() - started - cpu_s)
    if name in ("darts", "darts_logged"):
        from darts import TimeSeries
        from darts.models import BlockRNNModel

        logged = {"log_tensorboard": True, "save_checkpoints": True, "force_reset": True} if name == "darts_logged" else {}
        model = BlockRNNModel(
            model="LSTM",
            input_chunk_length=INPUT_LENGTH,
            output_chunk_length=HORIZON,
            hidden_dim=HIDDEN,
            n_rnn_layers=1,
            batch_size=BATCH,
            n_epochs=EPOCHS,
            optimizer_kwargs={"lr": LR},
            work_dir=str(workdir / name),
            model_name=f"run{repeat}",
            **logged,
        )
        train, val = TimeSeries.from_values(series.train), TimeSeries.from_values(series.val)
        return timed(lambda: model.fit(train, val_series=val), counters)
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    lstm = LSTM(
        h=HORIZON,
        input_size=INPUT_LENGTH,
        encoder_n_layers=1,
        encoder_hidden_size=HIDDEN,
        decoder_layers=1,
        loss=MSE(),
        max_steps=EPOCHS * 2,
        val_check_steps=2,
        learning_rate=LR,
        windows_batch_size=BATCH,
    )
    forecaster = NeuralForecast(models=[lstm], freq=1)
    frame = pd.DataFrame({"unique_id": "airline", "ds": np.arange(len(series.train_and_val)), "y": series.train_and_val})
    return timed(lambda: forecaster.fit(frame, val_size=series.val_size), counters)


def summary(fits: list[Fit]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "fit_cpu_s": round(statistics.median(fit.cpu_s for fit in fits), 3),
        "repeats_fit_cpu_s": [round(fit.cpu_s, 3) for fit in fits],
        "steps": [fit.steps for fit in fits],
    }
    if fits[0].build_cpu_s is not None:
        result["build_cpu_s"] = round(statistics.median(fit.build_cpu_s for fit in fits), 3)  # type: ignore[misc]
    return result


def print_table(report: dict[str, Any]) -> None:
    tools = report["tools"]
    hand_rate = tools["hand"]["steps"][0] / tools["hand"]["fit_cpu_s"] if "fit_cpu_s" in tools.get("hand", {}) else None
    print(f"\n{'tool':<16}{'fit CPU-s':>10}{'steps':>7}{'eval LSTM passes':>18}{'steps/CPU-s vs hand':>21}  repeats (fit CPU-s)")
    for name, tool in tools.items():
        if "skipped" in tool:
            print(f"{name:<16}skipped: {tool['skipped']}")
            continue
        relative = round(statistics.median(tool["steps"]) / tool["fit_cpu_s"] / hand_rate, 3) if hand_rate else "-"
        build = f"  (+ build {tool['build_cpu_s']} outside the fit)" if "build_cpu_s" in tool else ""
        steps = sorted(set(tool["steps"]))
        print(
            f"{name:<16}{tool['fit_cpu_s']:>10}{'/'.join(map(str, steps)):>7}{tool['eval_lstm_passes']:>18}{relative:>21}  {tool['repeats_fit_cpu_s']}{build}"
        )


def tool_list(text: str) -> list[str]:
    """``--tools``: comma-separated names from TOOLS."""
    names = text.split(",")
    unknown = sorted(set(names) - set(TOOLS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(TOOLS)}")
    return names


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= 1")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=tool_list, default=list(TOOLS), help=f"comma-separated, from {list(TOOLS)}")
    parser.add_argument("--repeats", type=positive, default=5, help="timed rounds; the median is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (benchmark.py's --threads 1)")
    parser.add_argument("--out", type=Path, default=Path("short_fit_peers.json"), help="where the JSON figures go")
    args = parser.parse_args(argv)
    args.device, args.precision = "cpu", "32-true"  # what bench_report.meta records
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out.resolve()
    report: dict[str, Any] = {"meta": meta(args), "tools": {}}
    tools = []
    for name in args.tools:
        version = installed(PEERS[name]) if name in PEERS else L.__version__
        if version is None:
            print(f"{name}: {PEERS[name]} not installed (pip install {'darts[torch]' if PEERS[name] == 'darts' else PEERS[name]}): skipped", flush=True)
            report["tools"][name] = {"skipped": f"{PEERS[name]} not installed"}
            continue
        report["meta"][PEERS.get(name, "lightning")] = version
        report["tools"][name] = {"settings": SETTINGS[name]}
        tools.append(name)
    counters = Counters()
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="seqexp-short-peers-") as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # darts' and neuralforecast's default folders (lightning_logs/, darts_logs/) land here
        series = load_series([*SHORT_OVERRIDES, f"paths.output_dir={workdir}"])[2]
        counters.count_eval = True  # the check round: warms every tool and counts its validation passes
        for name in tools:
            counters.eval_passes = 0
            run_tool(name, -1, workdir, series, counters)
            report["tools"][name]["eval_lstm_passes"] = counters.eval_passes
        counters.count_eval = False
        fits: dict[str, list[Fit]] = {name: [] for name in tools}
        report["meta"]["load_average_per_round"] = []
        for repeat in range(args.repeats):  # A B C ... A B C ...
            report["meta"]["load_average_per_round"].append([round(value, 2) for value in os.getloadavg()])
            for name in tools:
                fits[name].append(run_tool(name, repeat, workdir, series, counters))
        for name in tools:
            report["tools"][name].update(summary(fits[name]))
        os.chdir(home)
    write_report(report, out)
    print_table(report)
    print(f"load average at start {report['meta']['load_average_at_start']}, at end {report['meta']['load_average_at_end']}; figures written to {out}")
    return report


if __name__ == "__main__":
    main()
