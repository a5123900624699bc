"""Export recipe: a checkpoint's model as a file that serves without seqexp's training code.

    python -m seqexp.export ckpt_path=<run>/checkpoints/last.ckpt output_file=model.onnx   # ONNX (onnxruntime)
    python -m seqexp.export ckpt_path=<run>/checkpoints/last.ckpt output_file=model.pt     # TorchScript

The task is rebuilt from the checkpoint (as ``seqexp.predict`` does), its data config from the run folder's
saved config; the DataModule's saved state (vocabulary, scaler, ...) comes from the checkpoint, so no data is
read. ``seqexp.exported`` writes the file with its metadata and checks it against PyTorch;
``python -m seqexp.predict ckpt_path=model.onnx`` serves it.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import hydra
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from seqexp.config import ConfigError
from seqexp.console import quiet_library_noise, user_errors_are_short
from seqexp.run_config import saved_config
from seqexp.safety import MODEL_FORMATS, check_checkpoint

log = logging.getLogger(__name__)


def with_defaults(cfg: DictConfig) -> DictConfig:
    """``cfg`` over conf/export.yaml's values, so that a call from Python may set only what it needs."""
    defaults = OmegaConf.load(Path(str(resources.files("seqexp.conf").joinpath("export.yaml"))))
    for key in ("defaults", "hydra"):
        defaults.pop(key)
    return OmegaConf.merge(defaults, cfg)


def export(cfg: DictConfig) -> Path:
    """Write ``output_file`` from ``ckpt_path`` and return its path."""
    cfg = with_defaults(cfg)
    quiet_library_noise()
    for key in ("ckpt_path", "output_file"):
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(f"{key}: missing; give ckpt_path=<run>/checkpoints/<file>.ckpt output_file=model.onnx (or .pt)")
    if not isinstance(cfg.tolerance, (int, float)) or isinstance(cfg.tolerance, bool) or not cfg.tolerance > 0:
        raise ConfigError(f"tolerance={cfg.tolerance!r}: must be a number > 0")
    if not isinstance(cfg.opset, int) or isinstance(cfg.opset, bool) or not 9 <= cfg.opset <= 20:  # what torch's exporter writes
        raise ConfigError(f"opset={cfg.opset!r}: must be an integer in [9, 20]")
    from seqexp.exported import check_model_file, metadata_for, write_model_file  # noqa: PLC0415 - torch: once the keys hold

    output_file = check_model_file(cfg.output_file, "output_file")
    ckpt_path = Path(cfg.ckpt_path)
    checkpoint = check_checkpoint(ckpt_path, "ckpt_path", resume=False)
    run_cfg, _ = saved_config(ckpt_path)
    run = OmegaConf.to_container(OmegaConf.masked_copy(run_cfg, ["seed", "data", "task"]), resolve=True)
    task = get_class(run["task"]["_target_"]).load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    data_state = checkpoint.get(get_class(run["data"]["_target_"]).__qualname__, {})  # where Lightning saves it
    difference = write_model_file(task, metadata_for(task, run, data_state), output_file, cfg.opset, cfg.tolerance)
    log.info(
        "Wrote %s (%s) from %s; on two example batches it gives PyTorch's outputs within %.2g. Serve it with: "
        "python -m seqexp.predict ckpt_path=%s output_file=<file>",
        output_file.resolve(),
        MODEL_FORMATS[output_file.suffix.lower()],
        ckpt_path,
        difference,
        output_file,
    )
    return output_file


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@user_errors_are_short
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()
