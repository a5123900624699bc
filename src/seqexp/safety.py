"""Checks that run before any training, so a bad path fails in a second, not after an hour.

- ``check_checkpoint``: a ``ckpt_path`` must be a complete Lightning checkpoint that loads with
  ``torch.load(weights_only=True)`` (tensors and plain values only: no arbitrary unpickling).
- ``check_outputs``: every folder a run writes to must be writable, and a fresh run must not land
  on checkpoints of another run (it would overwrite their ``last.ckpt`` and best checkpoint).
"""

from __future__ import annotations

import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from seqexp.config import ConfigError

if TYPE_CHECKING:
    import torch

# Keys Lightning writes into every checkpoint; resuming fit needs the loop and optimizer state too.
WEIGHTS_KEYS = ("state_dict", "hyper_parameters")
RESUME_KEYS = ("loops", "optimizer_states", "global_step")
# ckpt_path values Lightning resolves itself: "last" (the newest last*.ckpt, or a fresh start when there
# is none: safe to set on jobs that may be requeued) and "hpc" (SLURM auto-requeue checkpoint).
LIGHTNING_RESUME = ("last", "hpc")


class CheckpointError(ConfigError):
    """A ``ckpt_path`` that is missing, truncated, unsafe or not a Lightning checkpoint."""


class OutputError(ConfigError):
    """An output folder that cannot be written, or that holds another run's checkpoints."""


HINT = "pass a .ckpt file written by seqexp, e.g. <run>/checkpoints/last.ckpt"
MODEL_FORMATS = {".onnx": "ONNX", ".pt": "TorchScript"}  # the model files seqexp.export writes, by suffix


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` names a model file (by its suffix) rather than a checkpoint."""
    return Path(path).suffix.lower() in MODEL_FORMATS


def check_checkpoint_file(path: str | Path, key: str = "ckpt_path") -> Path:
    """``path`` if it is a whole PyTorch checkpoint file, without importing torch (a zip archive; truncated ones are not)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{key}={path}: no such file ({HINT})")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{key}={path}: not a complete PyTorch checkpoint (truncated, or another kind of file; {HINT})")
    return path


def check_checkpoint(path: str | Path, key: str = "ckpt_path", resume: bool = True) -> dict[str, Any]:
    """Load ``path`` weights-only (memory-mapped, so cheap) and return it; raise naming ``key`` if unusable."""
    import torch  # noqa: PLC0415 - not before the config pass (seqexp.eval reads the file's run config first)

    path = check_checkpoint_file(path, key)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if "Unsupported" in line] or [str(error).splitlines()[0]]
        raise CheckpointError(
            f"{key}={path}: holds Python objects that weights-only loading refuses ({lines[0].split('. Please')[0]}); "
            "seqexp never unpickles arbitrary objects from a checkpoint"
        ) from None  # torch's advice to retry with weights_only=False does not apply: there is no such switch
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise CheckpointError(f"{key}={path}: unreadable checkpoint ({str(error).splitlines()[0]})") from error
    needed = WEIGHTS_KEYS + (RESUME_KEYS if resume else ())
    missing = [name for name in needed if not isinstance(checkpoint, dict) or name not in checkpoint]
    if missing:
        raise CheckpointError(f"{key}={path}: not a Lightning training checkpoint (missing {missing}; {HINT})")
    return checkpoint


def _flat(section: Any, prefix: str) -> dict[str, Any]:
    if isinstance(section, dict):
        return {key: value for name, item in section.items() for key, value in _flat(item, f"{prefix}.{name}").items()}
    return {prefix: section}


def check_checkpoint_fits(task: torch.nn.Module, path: str | Path, key: str = "ckpt_path") -> None:
    """Refuse, before training, a checkpoint whose weights do not fit the model built from this config
    (another ``model.*`` size, or data with another vocabulary or number of features or classes), naming
    the parameters and the settings that differ, instead of Lightning's ``size mismatch`` traceback."""
    import torch  # noqa: PLC0415 - the task is built: torch is imported

    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    saved = {name: tuple(value.shape) for name, value in checkpoint["state_dict"].items()}
    built = {name: tuple(value.shape) for name, value in task.state_dict().items()}
    differ = [
        f"{name}: {list(saved.get(name, ()))} there, {list(built.get(name, ()))} here"
        for name in sorted(set(saved) | set(built))
        if saved.get(name) != built.get(name)
    ]
    if not differ:
        return
    settings = checkpoint.get("hyper_parameters", {})
    was = {**_flat(settings.get("model", {}), "model"), **_flat(settings.get("spec", {}), "spec")}
    now = {**_flat(getattr(task, "hparams", {}).get("model", {}), "model"), **_flat(getattr(task, "hparams", {}).get("spec", {}), "spec")}
    changed = [f"{name}={was.get(name)} there, {now.get(name)} here" for name in sorted(set(was) | set(now)) if was.get(name) != now.get(name)]
    raise CheckpointError(
        f"{key}={path}: its weights do not fit the model this config builds ({'; '.join(differ[:3])}"
        f"{'; ...' if len(differ) > 3 else ''}){': ' + '; '.join(changed) if changed else ''}. "
        "To resume, give the run's own overrides and data"
    )


def _check_writable(key: str, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{key}={folder}: not writable ({error.strerror or error}); choose another folder") from error


def check_outputs(cfg: DictConfig) -> None:
    """Fail at start, not after training, when outputs cannot be written or would overwrite another run."""
    _check_writable("paths.output_dir", Path(cfg.paths.output_dir))
    _check_writable("paths.metrics_file", Path(cfg.paths.metrics_file).parent)
    if not cfg.train:
        return
    checkpoint_dir = Path(cfg.paths.checkpoint_dir)
    _check_writable("paths.checkpoint_dir", checkpoint_dir)
    existing = sorted(p.name for p in checkpoint_dir.glob("*.ckpt"))
    resuming_here = cfg.ckpt_path in LIGHTNING_RESUME or (cfg.ckpt_path is not None and Path(cfg.ckpt_path).resolve().parent == checkpoint_dir.resolve())
    slurm_requeued = any(Path(cfg.paths.output_dir).glob("hpc_ckpt_*.ckpt"))  # Lightning resumes from it by itself
    if existing and not resuming_here and not slurm_requeued:
        raise OutputError(
            f"paths.checkpoint_dir={checkpoint_dir}: already holds {existing} from another run, which this run would "
            f"overwrite; resume it with ckpt_path={checkpoint_dir / 'last.ckpt'} (or ckpt_path=last) or choose a new hydra.run.dir"
        )


def preflight(cfg: DictConfig) -> None:
    """Everything about paths that can fail, checked before data or model are built."""
    ckpt_path = cfg.ckpt_path
    if ckpt_path == "last":  # Lightning's "resume if there is something to resume": check the file it will pick
        ckpt_path = next(iter(Path(cfg.paths.checkpoint_dir).glob("last.ckpt")), None)
    if ckpt_path is not None and ckpt_path not in LIGHTNING_RESUME:
        check_checkpoint(ckpt_path, "ckpt_path", resume=bool(cfg.train))
    check_outputs(cfg)
