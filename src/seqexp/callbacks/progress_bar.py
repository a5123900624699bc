"""Lightning's tqdm bar, redrawn by the clock rather than every N batches.

A redraw (the bar, then the metrics Lightning gathers for it) costs about one step of a small RNN. Lightning's
``refresh_rate=N`` redraws every N batches: 20 times a second for a model at 200 steps/s (1 % of its steps),
once every N steps of a model at a step a second. This bar redraws when ``min_interval_s`` has passed since the
last redraw, and at the end of each loop: a few times a second whatever the model's speed.
"""

from __future__ import annotations

import time
from typing import Annotated

from lightning.pytorch.callbacks import TQDMProgressBar

from seqexp.checks import Range, check_arguments


class ProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` (train, validation, test and predict bars) redrawn at most every ``min_interval_s``
    seconds, and after each loop's last batch; disabled on ranks > 0 as Lightning's is."""

    def __init__(self, min_interval_s: Annotated[float, Range(ge=0)] = 0.2, process_position: int = 0, leave: bool = False) -> None:
        check_arguments(type(self), "callbacks.progress_bar", min_interval_s=min_interval_s)
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.min_interval_s = min_interval_s
        self._drawn_at = float("-inf")  # time.monotonic() of the last redraw

    def _should_update(self, current: int, total: int) -> bool:  # Lightning asks this after every batch of every bar
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._drawn_at >= self.min_interval_s:
            self._drawn_at = now
            return True
        return False
