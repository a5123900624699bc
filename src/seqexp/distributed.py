"""DDP glue for runs started by Hydra: what Lightning's DDP launcher does not cover by itself.

Lightning's launcher starts ranks 1..N-1 by re-running rank 0's command line with
``hydra.run.dir`` set to rank 0's run folder. That is right for a single run, but inside a
multirun the command line is the whole sweep, so every rank would start a sweep of its own
(Lightning issue #11300). ``prepare_ranks`` rewrites a sweep job's command line to that job
alone, in its own folder; ``job_scope`` then leaves the process as it found it for the next job.
Importing this module imports neither torch nor Lightning (``seqexp.train`` reaches it before the config pass).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

from seqexp.config import ConfigError
from seqexp.data.core.spec import DataSpec

if TYPE_CHECKING:
    import lightning as L

# Hydra's flags that take their value as the next argument (`-cn train`): kept with it.
_FLAGS_WITH_VALUE = ("-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir")


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def check_data_parallel(trainer: L.Trainer, spec: DataSpec) -> None:
    """Stateful data carries each batch row into the next batch; a distributed sampler would break the rows."""
    if spec.stateful and trainer.world_size > 1:
        raise ConfigError(
            f"data.stateful=true cannot run with {trainer.world_size} processes "
            f"(trainer.strategy={type(trainer.strategy).__name__}): a distributed sampler would split the "
            "consecutive windows of each stream across ranks; use one device, or data.stateful=false"
        )


def _job_command_line(argv: list[str], job_overrides: list[str]) -> list[str]:
    """Rank 0's flags (config dir/name) with this job's overrides instead of the sweep's."""
    kept, arguments = [argv[0]], iter(argv[1:])
    for argument in arguments:
        if argument in ("-m", "--multirun") or not argument.startswith("-"):
            continue
        kept.append(argument)
        if argument in _FLAGS_WITH_VALUE:
            kept.append(next(arguments, ""))
    return [*kept, *job_overrides, "hydra.mode=RUN"]


def prepare_ranks(trainer: L.Trainer, spec: DataSpec) -> None:
    """Before ``fit``: refuse what cannot run data-parallel, and point the ranks of a sweep job at that job."""
    from seqexp.lightning_internals import starts_rank_processes  # noqa: PLC0415 - Lightning: the Trainer exists by now

    check_data_parallel(trainer, spec)
    if not (in_multirun() and starts_rank_processes(trainer)):
        return
    hydra_cfg = HydraConfig.get()
    if not hydra_cfg.launcher._target_.endswith("BasicLauncher"):
        raise ConfigError(
            f"trainer.strategy={type(trainer.strategy).__name__} starts its ranks as new processes of the command line, "
            f"which hydra/launcher={hydra_cfg.runtime.choices.get('hydra/launcher')} cannot host: use the basic launcher "
            "(the default), or hydra/launcher=slurm with hydra.launcher.tasks_per_node=<trainer.devices>"
        )
    sys.argv[:] = _job_command_line(sys.argv, list(hydra_cfg.overrides.task))
    with read_write(hydra_cfg.run):  # Lightning passes hydra.run.dir to the ranks it starts
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir


def joined_process_group() -> bool:
    """Whether this process talks to other ranks: a failure then cannot be skipped without them."""
    torch = sys.modules.get("torch")  # no process group before torch is imported
    return torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized()


@contextmanager
def job_scope() -> Iterator[None]:
    """Undo what a DDP job leaves in its process (command line, MASTER_PORT/LOCAL_RANK..., process
    group), so the next job of a sweep starts its own ranks on a fresh port."""
    argv, environ = list(sys.argv), dict(os.environ)
    try:
        yield
    finally:
        if joined_process_group():
            sys.modules["torch"].distributed.destroy_process_group()
        sys.argv[:] = argv
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)
