"""A run's saved config (``<run>/.hydra/config.yaml``): written by training, read back by ``seqexp.eval``
and ``seqexp.predict`` to rebuild the run's data and task.

- ``keep_data_paths_absolute``: when a run starts, every ``data.*path*`` key typed relative to the folder
  it was launched from becomes absolute, in the run's config and in its saved copy (Hydra saved it as
  typed), so the checkpoint can be evaluated from any folder.
- ``run_config``: the saved config with the user's ``data.*`` overrides applied (evaluate other data);
  any other key of the run (model and task: fixed by the checkpoint's weights) is refused, naming it.
  Runs saved before paths were kept absolute are found relative to the folder they were launched from
  (``.hydra/hydra.yaml``'s ``runtime.cwd``); a data file that is not found is named with its key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

from seqexp.config import ConfigError, hydra_runtime

log = logging.getLogger(__name__)

_ABSENT = object()


def data_path_keys(data: DictConfig) -> list[str]:
    """The data keys that name files (``path``, ``train_path``, ``test_path``, ``windows_path``, ...) and are set."""
    return [key for key in data if "path" in str(key) and isinstance(data.get(key), str)]


def _launch_folder() -> Path:
    """Where the user started the run: relative paths they typed are relative to it (Hydra may chdir)."""
    return Path(HydraConfig.get().runtime.cwd) if HydraConfig.initialized() else Path.cwd()


def keep_data_paths_absolute(cfg: DictConfig) -> None:
    """Make each relative ``data.*path*`` that exists under the launch folder absolute, in ``cfg`` and in the
    config Hydra saved before the job started (``<run>/.hydra/config.yaml``). A path that does not exist is
    left as typed, for the DataModule to refuse naming it."""
    if not isinstance(cfg.get("data"), DictConfig):
        return
    folder = _launch_folder()
    changed = {
        key: os.path.abspath(folder / cfg.data[key])
        for key in data_path_keys(cfg.data)
        if not Path(cfg.data[key]).is_absolute() and (folder / cfg.data[key]).exists()
    }
    if not changed:
        return
    for key, value in changed.items():
        cfg.data[key] = value
    if HydraConfig.initialized() and HydraConfig.get().output_subdir is not None:  # DDP ranks > 0 save none
        saved_file = Path(HydraConfig.get().runtime.output_dir, HydraConfig.get().output_subdir, "config.yaml")
        if saved_file.is_file():
            saved = OmegaConf.load(saved_file)
            for key, value in changed.items():
                saved.data[key] = value
            OmegaConf.save(saved, saved_file)


def _leaves(value: Any, key: str) -> dict[str, Any]:
    """``{dotted key: value}`` for every leaf under ``key`` (lists are leaves)."""
    if isinstance(value, dict) and value:
        return {name: leaf for part, item in value.items() for name, leaf in _leaves(item, f"{key}.{part}").items()}
    return {key: value}


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _typed(items: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in items.items())


def data_overrides(cfg: DictConfig, entry: str, own_data_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``data.*`` keys the user added (``own_data_keys``: the entry's own, e.g. ``seqexp.predict``'s new
    input, left out). Any other key added to the run's (``+model.hidden_size=8``, ``+seed=3``) is refused,
    naming it: on the command line, every ``+key`` typed; from Python, ``model`` and ``task``."""
    typed, _ = hydra_runtime(cfg)
    if typed:
        added = [item.lstrip("+") for item in typed if item.startswith("+")]
        added = [item for item in added if item.split("=", 1)[0].split(".")[0] not in ("data", "hydra")]
    else:
        added = [_typed(_leaves(_plain(cfg[top]), top)) for top in ("model", "task") if top in cfg]
    weights = [item for item in added if item.split("=", 1)[0].split(".")[0] in ("model", "task")]
    if weights:
        raise ConfigError(f"{', '.join(weights)}: the checkpoint's weights fix the model and task; train a new run to change them")
    if added:
        raise ConfigError(f"{', '.join(added)}: seqexp.{entry} applies only data.* keys to the run's config")
    return {key: value for key, value in _leaves(_plain(cfg.get("data")) or {}, "data").items() if key.split(".", 1)[-1] not in own_data_keys and key != "data"}


def saved_config(ckpt_path: Path) -> tuple[DictConfig, Path]:
    """The config the run of ``ckpt_path`` saved (``<run>/.hydra/config.yaml``), as saved, and that file."""
    config_file = ckpt_path.resolve().parent.parent / ".hydra" / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: no run config at {config_file} (is this a seqexp run folder?)")
    return OmegaConf.load(config_file), config_file


def run_config(ckpt_path: Path, overrides: dict[str, Any] | None = None, own_data_keys: tuple[str, ...] = (), saved: DictConfig | None = None) -> DictConfig:
    """The config ``ckpt_path`` was trained with, the user's ``data.*`` ``overrides`` in place of the run's
    values, and every data file found, its path made absolute (``own_data_keys``: the entry's own data keys,
    which cannot be given as ``+data.<key>``). ``saved``: the run's config as a model file written by
    ``seqexp.export`` carries it, in place of the run folder's."""
    if saved is None:
        run_cfg, config_file = saved_config(ckpt_path)
        run_dir = config_file.parent.parent
    else:
        run_cfg, config_file, run_dir = saved.copy(), ckpt_path, None
    overrides = overrides or {}
    for key, value in overrides.items():
        if OmegaConf.select(run_cfg, key, default=_ABSENT) is _ABSENT:
            keys = ", ".join(str(name) for name in run_cfg.data)
            raise ConfigError(f"{key}={value}: not a key of the run's data ({run_cfg.data.get('_target_')}); its keys are {keys}")
        log.info("Data: %s=%s (the run had %s)", key, value, OmegaConf.select(run_cfg, key))
        OmegaConf.update(run_cfg, key, value, merge=False)
    hydra_file = run_dir / ".hydra" / "hydra.yaml" if run_dir else None  # older runs' paths are relative to where they were launched
    launched = OmegaConf.select(OmegaConf.load(hydra_file), "hydra.runtime.cwd") if hydra_file and hydra_file.is_file() else None
    for key in data_path_keys(run_cfg.data):
        typed = run_cfg.data[key]
        if f"data.{key}" in overrides:  # typed here, relative to this folder
            run_cfg.data[key] = str(_find(typed, [Path.cwd()], f"data.{key}={typed}: no such file"))
            continue
        fix = (
            f"give its place with +data.{key}=<path>"
            if key not in own_data_keys
            else (f"set data.{key} in {config_file}" if saved is None else "give new input instead")
        )
        where = f", relative to {launched} (where the run was launched) or this folder" if launched and not Path(typed).is_absolute() else ""
        named = "the run's config names it" if saved is None else f"the run's config in {config_file} names it"
        run_cfg.data[key] = str(
            _find(
                typed,
                [Path(folder) for folder in (launched, Path.cwd()) if folder],
                f"data.{key}={typed}: no such file{where}; {named}: put the file back, or {fix}",
            )
        )
    return run_cfg


def _find(path: str, folders: list[Path], missing: str) -> Path:
    """``path`` as it exists: itself if absolute, else under the first of ``folders`` holding it; else ``missing``."""
    found = next((folder / path for folder in folders if (folder / path).exists()), None)  # an absolute path stays itself
    if found is None:
        raise ConfigError(missing)
    return Path(os.path.abspath(found))  # symbolic links kept as the user named them
