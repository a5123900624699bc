"""Lightning's loggers, adjusted to seqexp's run folders.

- ``TensorBoardLogger``: minus the ``epoch`` scalar Lightning adds to every write. That one-line chart
  (epoch against step) sorts first on TensorBoard's SCALARS page and pushes the learning curves
  (``train/``, ``val/``, ``test/``) below it; the x axis already counts steps. The scalars of one write
  go into one event: Lightning's ``add_scalar`` per value queues an event each for TensorBoard's writer
  thread (45 µs a value on a CPU, 7 µs batched; a validation logs about ten). A baseline's figures
  (``baseline/<name>/<split>/<metric>``) go to a TensorBoard run of their own, ``<run>/tensorboard_baselines/<name>``,
  under the model's tag (``test/mase``): a point in the model's own chart, in TensorBoard's tooltip beside
  the model's value (a setting it chose on val, ``baseline/<name>/<key>``, as ``setting/<key>``). Under their
  own tags they were a "baseline" section of 40 one-point charts that sorted before the learning curves, and
  40 HPARAMS columns before the model's metrics; outside the model's run folder they are no HPARAMS columns.
- ``MLFlowLogger``: each MLflow run is named after its run folder, and a local store that cannot be
  written fails when the logger is built, before any training, naming the key to change.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _add_prefix
from lightning.pytorch import loggers
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from tensorboard.compat.proto.summary_pb2 import Summary
from torch import Tensor
from torch.utils.tensorboard.summary import scalar
from torch.utils.tensorboard.writer import FileWriter

from seqexp.config import ConfigError


def baseline_run_and_tag(name: str) -> tuple[str, str] | None:
    """A baseline's TensorBoard run and tag: ``("seasonal_naive", "test/mase")`` for ``baseline/seasonal_naive/test/mase``,
    ``("rolling_zscore", "setting/window")`` for the setting it chose on val, ``baseline/rolling_zscore/window``; None
    for the model's figures."""
    parts = name.split("/", 2)
    if len(parts) < 3 or parts[0] != "baseline":
        return None
    return parts[1], parts[2] if "/" in parts[2] else f"setting/{parts[2]}"


class TensorBoardLogger(loggers.TensorBoardLogger):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._baseline_writers: dict[str, FileWriter] = {}

    @property
    def baselines_dir(self) -> Path:
        """``<run>/tensorboard_baselines``: beside the model's run folder, not in it (no HPARAMS columns)."""
        return Path(f"{os.path.normpath(self.log_dir)}_baselines")

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Lightning's ``log_metrics`` without ``epoch``, its scalars written as one event per TensorBoard run (a
        dict value is ``add_scalars``' chart, as in Lightning)."""
        values: dict[str, list[Summary.Value]] = {}  # baseline name ("" for the model's run) -> its values
        without_epoch = {name: value for name, value in metrics.items() if name != "epoch"}
        for name, value in _add_prefix(without_epoch, self._prefix, self.LOGGER_JOIN_CHAR).items():
            value = value.item() if isinstance(value, Tensor) else value
            if isinstance(value, dict):
                self.experiment.add_scalars(name, value, step)
                continue
            run, tag = baseline_run_and_tag(name) or ("", name)
            try:
                values.setdefault(run, []).extend(scalar(tag, value).value)
            except Exception as error:  # what Lightning says of a value add_scalar refuses
                raise ValueError(f"\n you tried to log {value} which is currently not supported. Try a dict or a scalar/tensor.") from error
        for run, run_values in values.items():
            writer = self._baseline_writer(run) if run else self.experiment._get_file_writer()
            writer.add_summary(Summary(value=run_values), step)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_baseline_writers": {}}  # writers (a thread, an open file) stay in this process

    def _baseline_writer(self, name: str) -> FileWriter:
        if name not in self._baseline_writers:
            self._baseline_writers[name] = FileWriter(str(self.baselines_dir / name))
        return self._baseline_writers[name]

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        for writer in self._baseline_writers.values():
            writer.close()
        self._baseline_writers.clear()


LOCAL_STORES = ("sqlite:///", "file:")  # tracking URIs that name a path on this machine


def local_store(tracking_uri: str) -> Path | None:
    """The file (``sqlite:///<path>``) or folder (``file:<path>``) a local tracking URI writes to; None for a server."""
    for prefix in LOCAL_STORES:
        if tracking_uri.startswith(prefix):
            return Path(tracking_uri[len(prefix) :])
    return None


def run_name_of(run_folder: Path, store: Path | None) -> str:
    """The run folder's path under the local store's folder (``2024-01-31/12-00-00-123456``,
    ``multirun/2024-01-31/12-00-00/3``), or its whole path when it lies elsewhere (or the store is a server)."""
    root = store.resolve().parent if store is not None else None
    folder = run_folder.resolve()
    return str(folder.relative_to(root)) if root is not None and folder.is_relative_to(root) else str(folder)


class MLFlowLogger(loggers.MLFlowLogger):
    """Lightning's MLflow logger; ``run_name`` null names the run after ``run_folder`` (see ``run_name_of``),
    and the ``run_folder`` tag holds the folder's whole path."""

    def __init__(self, run_folder: str, tracking_uri: str, run_name: str | None = None, tags: dict[str, Any] | None = None, **kwargs: Any) -> None:
        store = local_store(tracking_uri)
        if store is not None:
            check_store_folder(store.parent if tracking_uri.startswith("sqlite:") else store)
        super().__init__(
            run_name=run_name or run_name_of(Path(run_folder), store), tracking_uri=tracking_uri, tags={**(tags or {}), "run_folder": str(run_folder)}, **kwargs
        )


def check_store_folder(folder: Path) -> None:
    """Create the local store's folder and write a file there now: a read-only working folder fails with
    one message naming the key, not with a traceback from inside MLflow."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError(
            f"logger.mlflow.tracking_uri: the MLflow store's folder {folder} is not writable ({error.strerror or error}); "
            "run from a writable folder, or set logger.mlflow.tracking_uri=sqlite:///<writable folder>/mlflow.db"
        ) from error
