"""Test helpers: run the real CLI in a subprocess, compose the real conf/ in-process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import lightning as L
from hydra import compose, initialize_config_module
from omegaconf import DictConfig


def run_cli(
    module: str,
    *overrides: str,
    run_dir: Path | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``python -m seqexp.<module> overrides...`` exactly as a user runs it (defaults and all); ``run_dir`` pins hydra.run.dir."""
    flags = [item for item in overrides if item.startswith("-")]  # e.g. -m, --config-dir=DIR: before overrides
    overrides = tuple(item for item in overrides if not item.startswith("-"))
    command = [sys.executable, "-m", f"seqexp.{module}", *flags, *overrides]
    if run_dir is not None:
        command.append(f"hydra.run.dir={run_dir}")
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def sigterm_when(command: list[str], console: Path, ready: Callable[[subprocess.Popen], bool], cwd: Path | None = None) -> tuple[int, str]:
    """Start ``command``, send it SIGTERM as soon as ``ready(process)`` (never a fixed sleep), wait for it; return its
    exit status and output (``console``: a file, since a full pipe would stall the run)."""
    with open(console, "w") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not ready(process):
        assert process.poll() is None, console.read_text()[-4000:]
        assert time.monotonic() < deadline, f"not ready within 300 s: {' '.join(command)}"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    return process.returncode, console.read_text()


def read_metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())


def compose_train(*overrides: str) -> DictConfig:
    """The train config composed from the package's own conf/, with Hydra's runtime filled in."""
    with initialize_config_module(config_module="seqexp.conf", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


class Interrupted(Exception):
    """Raised by ``InterruptAt``."""


class SigtermDuringPredict(L.Callback):
    """Sends its own process SIGTERM at predict's first batch: a real signal that Lightning's predict loop records
    (``trainer.received_sigterm``) but never acts on."""

    def on_predict_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)


class InterruptAt(L.Callback):
    """Stops a run in-process once global step ``step`` is reached (after its checkpoint): a cheap stand-in for a kill."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise Interrupted(f"interrupted before step {self.step + 1}")


def whole(dataset: Any) -> dict[str, Any]:
    """Every item of a batch-serving dataset (``BatchedTensorDataset``, ``WindowDataset``) as one batch."""
    return dataset.__getitems__(list(range(len(dataset))))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a server started right after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_json(url: str, request: dict) -> dict:
    data = json.dumps(request).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data, {"Content-Type": "application/json"}), timeout=30) as reply:
        return json.loads(reply.read())


@contextmanager
def tensorboard_server(logdir: str | Path, cwd: Path | None = None) -> Iterator[str]:
    """``tensorboard --logdir <logdir>`` on 127.0.0.1, run from ``cwd``: its URL once it answers; stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1"]
    server = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/data/plugins_listing", timeout=5).read()
                break
            except OSError:  # not listening yet
                assert server.poll() is None and time.monotonic() < deadline, "TensorBoard did not start"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
