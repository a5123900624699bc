"""The run's guards as one callback: Lightning calls every hook of every callback on every step (and,
under truncated BPTT, every chunk), so three guards in one callback pay for one set of calls, not three."""

from __future__ import annotations

from seqexp.callbacks.nan_guard import NanGuard
from seqexp.callbacks.preemption import SaveOnSigterm
from seqexp.callbacks.rng_state import RngState


class RunGuards(NanGuard, SaveOnSigterm, RngState):
    """``NanGuard`` (stop at the first non-finite training loss, never save non-finite weights),
    ``SaveOnSigterm`` (``last.ckpt`` in ``dirpath`` on SIGTERM) and ``RngState`` (generator states in
    checkpoints). Their hooks do not overlap, so each keeps its own; each also works alone."""

    def __init__(self, dirpath: str, check_every_n_steps: int = 1) -> None:
        NanGuard.__init__(self, check_every_n_steps)
        SaveOnSigterm.__init__(self, dirpath)
