"""Lightning's tqdm bar, redrawn by the clock rather than every N batches and every hook.

A redraw (the bar, then the metrics Lightning gathers for it) costs about one step of a small RNN. Lightning's
``refresh_rate=N`` redraws every N batches: 20 times a second for a model at 200 steps/s (1 % of its steps),
once every N steps of a model at a step a second. It also redraws at every epoch's start and end and every
validation's start and end (descriptions, postfix metrics, resets): about ten times an epoch, 10 % of a short
fit of many 2-batch epochs. This bar draws when ``min_interval_s`` has passed since its last draw, whatever
asked for it; the counts and metrics it holds are updated at each loop's last batch and whenever it draws, and
a bar's close draws its final state.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from seqexp.checks import Range, check_arguments


class ProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` (train, validation, test and predict bars) drawn at most every ``min_interval_s`` seconds,
    one clock for all its bars; disabled on ranks > 0 as Lightning's is."""

    def __init__(self, min_interval_s: Annotated[float, Range(ge=0)] = 0.2, process_position: int = 0, leave: bool = False) -> None:
        check_arguments(type(self), "callbacks.progress_bar", min_interval_s=min_interval_s)
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.min_interval_s = min_interval_s
        self._drawn_at = float("-inf")  # time.monotonic() of the last draw

    def _should_update(self, current: int, total: int) -> bool:  # Lightning asks this after every batch of every bar
        return self.is_enabled and (current == total or time.monotonic() - self._drawn_at >= self.min_interval_s)

    def _by_the_clock(self, bar: Tqdm) -> Tqdm:
        """``bar`` whose ``refresh`` (what tqdm's ``set_description``, ``set_postfix``, ``reset`` and Lightning's count
        updates call) draws only once ``min_interval_s`` has passed since any of this callback's bars drew."""
        draw = bar.refresh

        def refresh(*args: Any, **kwargs: Any) -> bool:
            now = time.monotonic()
            if now - self._drawn_at < self.min_interval_s:
                return False
            self._drawn_at = now
            return draw(*args, **kwargs)

        bar.refresh = refresh  # type: ignore[method-assign]
        return bar

    def init_sanity_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_sanity_tqdm())

    def init_train_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_train_tqdm())

    def init_validation_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_validation_tqdm())

    def init_test_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_test_tqdm())

    def init_predict_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_predict_tqdm())
