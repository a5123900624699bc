"""The private Lightning names seqexp uses (seqexp.lightning_internals) still mean what they did.

When one of these fails after a Lightning upgrade, update seqexp/lightning_internals.py: nowhere
else imports a private Lightning name.
"""

from __future__ import annotations

import lightning as L

from seqexp.lightning_internals import PRECISIONS, starts_rank_processes


def test_precision_values_are_lightnings_accepted_strings() -> None:
    assert {"32-true", "16-mixed", "bf16-mixed", "64-true"} <= set(PRECISIONS)
    for value in PRECISIONS:  # every listed value builds a Trainer
        if str(value).startswith(("16", "bf16", "transformer-engine")) or value in ("half", "bf16", 16):
            continue  # mixed/half precisions need a GPU or an extra package on CPU
        L.Trainer(accelerator="cpu", devices=1, precision=value, logger=False, enable_checkpointing=False)


def test_the_subprocess_launcher_is_what_ddp_on_cpu_uses_and_one_device_is_not() -> None:
    ddp = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False)
    single = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    assert starts_rank_processes(ddp) and not starts_rank_processes(single)
