"""What a user sees: one log stream (console and the run's ``<task>.log``), no library noise,
and a short message instead of a traceback for mistakes that are the user's.

Hydra's ``job_logging`` (conf/hydra/default.yaml) sends Lightning's loggers (once ``route_lightning_logs``
has run), seqexp's and Python warnings to the console and to the run folder's log file alike. Hydra imports
this module before a run starts, so it imports neither torch nor Lightning: a config mistake is answered without them.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

from seqexp.config import ConfigError
from seqexp.data.core.errors import DataError

log = logging.getLogger(__name__)

# Advice that is not the user's business: Lightning's advertisements and deprecations inside libraries.
_NOISE_MESSAGES = (
    r".*isinstance\(treespec, LeafSpec\).*",  # torch's pytree deprecation, raised inside Lightning
    r"Be aware that when using `ckpt_path`, callbacks used to create the checkpoint.*",  # eval tests weights, no training callbacks
    r"It is recommended to use `self\.log\(.*sync_dist=True\)`.*",  # torchmetrics' compute() has already synced those
    r"The `srun` command is available on your system but is not used.*",  # on a cluster's node: seqexp's way there is hydra/launcher=slurm
    r"Using `DistributedSampler` with the dataloaders\. During `trainer\.test\(\)`.*",  # the task says when cases repeat, how many
)

Result = TypeVar("Result")


class HideTips(logging.Filter):
    """Drops Lightning's "Tip" lines (litlogger, litmodels): advertisements, not information about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def route_lightning_logs() -> None:
    """Hand Lightning's records to Hydra's handlers (``job_logging``: tips hidden, the run's log file written).

    Importing ``lightning`` adds a console handler of its own ("INFO: ..." lines, tips included); seqexp
    imports it only after the config pass, so after Hydra has set up logging: call this once it is imported.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def announce(message: str) -> None:
    """A line for the user, once per run (not once per DDP rank)."""
    from lightning.pytorch.utilities import rank_zero_only  # noqa: PLC0415 - Lightning: imported once the run's config holds

    rank_zero_only(log.info)("%s", message)


def folder_listing(folder: str | Path) -> str:
    """What ``folder`` holds, for the user: ``checkpoints/, metrics.json, tensorboard/, train.log`` (hidden entries left out)."""
    entries = sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []
    return ", ".join(entry.name + ("/" if entry.is_dir() else "") for entry in entries if not entry.name.startswith("."))


def quiet_library_noise() -> None:
    """Route Python warnings into the log (console and file) and drop the ones that are pure noise."""
    logging.captureWarnings(True)
    for message in _NOISE_MESSAGES:
        warnings.filterwarnings("ignore", message=message)


def user_errors_are_short(entry: Callable[..., Result]) -> Callable[..., Result]:
    """A user's mistake (bad config, data file or checkpoint) ends the program with its message and
    exit code 1, without a traceback; ``HYDRA_FULL_ERROR=1`` shows the full trace. Any other exception
    is a bug and keeps its trace."""

    @functools.wraps(entry)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        try:
            return entry(*args, **kwargs)
        except Exception as error:
            mistake = users_mistake(error)
            if mistake is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            logging.getLogger("seqexp.errors").error("%s", mistake)  # the run's log file (conf/hydra/default.yaml)
            raise SystemExit(f"Error: {mistake}") from None

    return wrapper


def users_mistake(error: BaseException) -> BaseException | None:
    """The user-facing error in ``error``'s cause chain (Hydra's ``instantiate`` wraps what a constructor raised)."""
    nan_guard = sys.modules.get("seqexp.callbacks.nan_guard")  # raised only once training has imported it
    mistakes = (ConfigError, DataError, *([nan_guard.NonFiniteLossError] if nan_guard else []))  # the last: its message says what to try
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, mistakes):
            return seen
        seen = seen.__cause__
    return None
