"""Lightning's "no profiler" without its per-hook cost.

Lightning wraps every hook call in ``trainer.profiler.profile(name)``: every hook of every callback,
the task's and the strategy's, about a hundred per training step of a default run. Its default
``PassThroughProfiler`` records nothing, yet each call builds and runs a generator-based context
manager (about a microsecond): 2 % of a small RNN's step here. ``NoProfiler`` records nothing either
and hands back one shared ``nullcontext``. With it, Lightning's callback dispatch also skips the hooks a
callback does not override (``seqexp.lightning_internals.skip_no_op_callback_hooks``): with nothing to profile,
a no-op call is pure cost, about 1 µs per callback per hook. ``trainer.profiler`` set to one of Lightning's
profilers (simple, advanced, pytorch) replaces it, and with it every hook is dispatched and profiled as
Lightning does.
"""

from __future__ import annotations

from contextlib import nullcontext

from lightning.pytorch.profilers import PassThroughProfiler

from seqexp.lightning_internals import skip_no_op_callback_hooks

_NOTHING = nullcontext()


class NoProfiler(PassThroughProfiler):
    """A ``PassThroughProfiler`` whose ``profile`` is one shared, reusable no-op context."""

    def __init__(self) -> None:
        super().__init__()
        skip_no_op_callback_hooks(NoProfiler)

    def profile(self, action_name: str) -> nullcontext:  # type: ignore[override]
        return _NOTHING
