"""Job states from ``squeue`` for submitit, where ``sacct`` has none.

submitit learns that a job ended from its result file or from ``sacct``. A cluster without accounting storage
(``AccountingStorageType=accounting_storage/none``: small clusters, and ``scripts/slurm_cluster.sh``) answers
every ``sacct`` with an error, so submitit warns "status may be inaccurate" at each poll and waits forever for a
job that SLURM ended without a result (cancelled, killed, out of time). There ``SqueueInfoWatcher`` asks ``squeue``,
which lists the user's jobs, finished ones included, for ``MinJobAge`` seconds (300 by default) after they end; a
job no longer listed has ended too.
"""

from __future__ import annotations

import subprocess
from typing import Any, Dict, List, Optional

from submitit.slurm.slurm import SlurmInfoWatcher

ENDED = "ENDED"  # the state of a job that squeue no longer lists; any state submitit does not know counts as finished
# squeue's states of jobs that have not ended (starting, paused, held after a requeue, cleaning up), which submitit,
# knowing sacct's few unfinished states, would take as ended: they are reported as RUNNING.
NOT_ENDED = {"CONFIGURING", "SUSPENDED", "STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT"}


def keeps_accounting() -> bool:
    """Whether ``sacct`` can report on jobs: the cluster stores accounting (an unreadable config: assume it does)."""
    try:
        config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True
    return "accounting_storage/none" not in config


class SqueueInfoWatcher(SlurmInfoWatcher):
    """submitit's job watcher, reading the states from ``squeue`` in the format it reads from ``sacct``."""

    def _make_command(self) -> Optional[List[str]]:
        if not self._registered - self._finished:
            return None
        return ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T|%N"]

    def read_info(self, string: Any) -> Dict[str, Dict[str, str]]:
        text = string.decode() if isinstance(string, bytes) else string
        listed = {
            job: {**stats, "State": "RUNNING"} if stats.get("State") in NOT_ENDED else stats
            for job, stats in super().read_info("JobID|State|NodeList\n" + text).items()
        }
        gone = {job: {"JobID": job, "State": ENDED} for job in self._registered - self._finished if job not in listed}
        return {**listed, **gone}
