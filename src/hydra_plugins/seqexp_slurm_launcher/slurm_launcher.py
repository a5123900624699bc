"""The ``Launcher`` Hydra instantiates for ``hydra/launcher=slurm``: hydra-submitit-launcher's, where it is installed."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Sequence

if find_spec("hydra_plugins.hydra_submitit_launcher") is not None:  # the `cluster` extra
    from hydra.core.utils import JobReturn
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher

    class SeqexpSlurmLauncher(submitit_launcher.SlurmLauncher):
        """Each job of the sweep is one task of a SLURM job array (``SlurmLauncher``); the sweep waits for them all,
        through ``squeue`` where the cluster keeps no accounting."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            # submitit is imported here, not when Hydra scans the plugins at every start (as hydra-submitit-launcher does)
            from submitit.core.utils import UncompletedJobError  # noqa: PLC0415
            from submitit.slurm.slurm import SlurmJob  # noqa: PLC0415

            from ._squeue import SqueueInfoWatcher, keeps_accounting  # noqa: PLC0415

            if not isinstance(SlurmJob.watcher, SqueueInfoWatcher) and not keeps_accounting():
                SlurmJob.watcher = SqueueInfoWatcher(delay_s=60)  # the watcher all of submitit's SLURM jobs share
            try:
                return super().launch(job_overrides, initial_job_idx)
            except UncompletedJobError as error:  # sbatch refused the jobs, or SLURM ended one without a result (scancel, time limit)
                lines = str(error).splitlines()  # "sbatch: error: ..." or "Job <id> (task: 0) with path <result file>", "has not ..."
                what = " ".join(lines[:2]) if len(lines) > 1 and "has not produced any output" in lines[1] else lines[0]
                raise SystemExit(f"Error: hydra/launcher=slurm: {what}") from None
