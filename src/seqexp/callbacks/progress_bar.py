"""Lightning's tqdm bar, redrawn by the clock rather than every N batches and every hook.

A redraw (the bar, then the metrics Lightning gathers for it) costs about one step of a small RNN. Lightning's
``refresh_rate=N`` redraws every N batches: 20 times a second for a model at 200 steps/s (1 % of its steps),
once every N steps of a model at a step a second. It also redraws at every epoch's start and end and every
validation's start and end (descriptions, postfix metrics, resets): about ten times an epoch, 10 % of a short
fit of many 2-batch epochs. This bar draws when ``min_interval_s`` has passed since its last draw, whatever
asked for it; the counts and metrics it holds are updated at each loop's last batch and whenever it draws, and
a bar's close draws its final state. The bars of a fit's validations and of its sanity check show only once they
have run for ``min_interval_s``: one that ends sooner (most, in a short fit) is neither drawn nor cleared, so
each epoch's log holds no ``Validation: 0/?`` line.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from seqexp.checks import Range, check_arguments


class ProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` (train, validation, test and predict bars) drawn at most every ``min_interval_s`` seconds,
    one clock for all its bars, the fit's validation and sanity bars shown only after ``min_interval_s``; disabled on
    ranks > 0 as Lightning's is."""

    def __init__(self, min_interval_s: Annotated[float, Range(ge=0)] = 0.2, process_position: int = 0, leave: bool = False) -> None:
        check_arguments(type(self), "callbacks.progress_bar", min_interval_s=min_interval_s)
        super().__init__(refresh_rate=1, process_position=process_position, leave=leave)
        self.min_interval_s = min_interval_s
        self._drawn_at = float("-inf")  # time.monotonic() of the last draw

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """A stage that ends on an error closes its open bars: the error's ``Error: ...`` line then starts a line of
        its own instead of continuing the bar's."""
        for name in ("train_progress_bar", "val_progress_bar", "test_progress_bar", "predict_progress_bar"):
            try:
                bar = getattr(self, name)
            except TypeError:  # Lightning's answer for a bar this run never made
                continue
            if not bar.disable:  # a closed bar is disabled too
                bar.close()

    def _should_update(self, current: int, total: int) -> bool:  # Lightning asks this after every batch of every bar
        return self.is_enabled and (current == total or time.monotonic() - self._drawn_at >= self.min_interval_s)

    def _by_the_clock(self, bar: Tqdm) -> Tqdm:
        """``bar`` whose ``refresh`` (what tqdm's ``set_description``, ``set_postfix``, ``reset`` and Lightning's count
        updates call) draws only once ``min_interval_s`` has passed since any of this callback's bars drew."""
        draw = bar.refresh
        # a short-lived bar's first draw waits its tqdm `delay` (a disabled bar, as on ranks > 0, has no attributes beyond `disable`)
        shown_from = time.monotonic() + getattr(bar, "delay", 0.0)

        def refresh(*args: Any, **kwargs: Any) -> bool:
            now = time.monotonic()
            if now - self._drawn_at < self.min_interval_s or now < shown_from:
                return False
            self._drawn_at = now
            bar.delay = 0  # drawn: tqdm's close clears it (a bar still in its delay was never drawn, and is not cleared)
            return draw(*args, **kwargs)

        bar.refresh = refresh  # type: ignore[method-assign]
        return bar

    def _short_lived(self, description: str, position: int) -> Tqdm:
        """Lightning's sanity and validation bar of a fit, first drawn ``min_interval_s`` after it starts (tqdm's ``delay``)."""
        bar = Tqdm(
            desc=description,
            position=position,
            disable=self.is_disabled,
            leave=False,
            dynamic_ncols=True,
            file=sys.stdout,
            bar_format=self.BAR_FORMAT,
            delay=self.min_interval_s,
        )
        return self._by_the_clock(bar)

    def init_sanity_tqdm(self) -> Tqdm:
        return self._short_lived(self.sanity_check_description, 2 * self.process_position)

    def init_train_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_train_tqdm())

    def init_validation_tqdm(self) -> Tqdm:
        if self.trainer.state.fn == "validate":  # the only bar of `trainer.validate()`: shown from its start, and kept
            return self._by_the_clock(super().init_validation_tqdm())
        return self._short_lived(self.validation_description, 2 * self.process_position + 1)

    def init_test_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_test_tqdm())

    def init_predict_tqdm(self) -> Tqdm:
        return self._by_the_clock(super().init_predict_tqdm())
