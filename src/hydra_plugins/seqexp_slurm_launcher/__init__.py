"""seqexp's SLURM launcher: hydra-submitit-launcher's, made to work on clusters that keep no accounting.

``hydra/launcher=slurm`` (``conf/hydra/launcher/slurm.yaml``) selects it. Hydra imports ``slurm_launcher`` when it
scans plugins; that module defines the launcher only where the ``cluster`` extra (hydra-submitit-launcher) is
installed, so a set-up without it gets no warning from the scan.
"""
