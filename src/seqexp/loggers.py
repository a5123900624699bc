"""Lightning's loggers, adjusted to seqexp's run folders.

- ``TensorBoardLogger``: minus the ``epoch`` scalar Lightning adds to every write. That one-line chart
  (epoch against step) sorts first on TensorBoard's SCALARS page and pushes the learning curves
  (``train/``, ``val/``, ``test/``) below it; the x axis already counts steps.
- ``MLFlowLogger``: each MLflow run is named after its run folder, and a local store that cannot be
  written fails when the logger is built, before any training, naming the key to change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from lightning.pytorch import loggers

from seqexp.config import ConfigError


class TensorBoardLogger(loggers.TensorBoardLogger):
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics({name: value for name, value in metrics.items() if name != "epoch"}, step)


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
