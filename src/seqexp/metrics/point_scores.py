"""Per-point scores of one series from overlapping windows, accumulated batch by batch.

A window of ``time`` steps starting at position ``start`` scores positions ``start .. start + time - 1``
(nan where it does not score a step; positions < 0 are context before the split). A point's score is the
mean over every window that scored it. Keeping every window's scores until the end of an epoch costs
O(points x window); :class:`PointScores` keeps per-point sums and counts instead, O(points), and grows
with the highest position seen. Under DDP each rank accumulates its share and :meth:`PointScores.reduce`
sums them, so every rank ends with the whole series.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqexp.metrics.anomaly import smooth

# ``reduce(tensor, op)`` with op "sum" or "max": the strategy's all-reduce under DDP.
Reduce = Callable[[torch.Tensor, str], torch.Tensor]


class PointScores:
    """Sums and counts of window scores per point, with each point's label and (optionally) input values."""

    def __init__(self, keep_values: bool = True) -> None:
        self.keep_values = keep_values
        # (points,) sum of the scores of the windows that scored it: float32, added window after window in the
        # order the windows come, as the scores were always summed (a point adds at most one window's worth)
        self.total = torch.zeros(0, dtype=torch.float32)
        self.count = torch.zeros(0, dtype=torch.int32)  # (points,) how many windows scored it
        self.labels = torch.zeros(0, dtype=torch.uint8)  # (points,) 0/1
        self.values: torch.Tensor | None = None  # (points, feature) the inputs, as the model saw them
        self.written = torch.zeros(0, dtype=torch.int32)  # (points,) 1 where this rank wrote labels and values

    def _grow(self, length: int, features: int = 0, device: torch.device | None = None, exact: bool = False) -> None:
        """Make room for positions ``< length`` (doubling, so that growing costs O(points) in all; ``exact``:
        to ``length`` itself, as every rank must hold the same length to all-reduce)."""
        if self.values is None and self.keep_values and features:
            self.values = torch.zeros(len(self.total), features, device=self.total.device)
        if device is not None and self.total.device != device:
            self.to(device)
        if length <= len(self.total):
            return
        size = length if exact else max(length, 2 * len(self.total))
        extra = size - len(self.total)
        self.total = torch.cat([self.total, self.total.new_zeros(extra)])
        self.count = torch.cat([self.count, self.count.new_zeros(extra)])
        self.labels = torch.cat([self.labels, self.labels.new_zeros(extra)])
        self.written = torch.cat([self.written, self.written.new_zeros(extra)])
        if self.values is not None:
            self.values = torch.cat([self.values, self.values.new_zeros(extra, self.values.shape[1])])

    def to(self, device: torch.device) -> None:
        """Move the sums (and what is kept with them) to ``device``."""
        self.total, self.count = self.total.to(device), self.count.to(device)
        self.labels, self.written = self.labels.to(device), self.written.to(device)
        if self.values is not None:
            self.values = self.values.to(device)

    def add(self, starts: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """One batch of windows: ``starts`` (windows,), ``scores`` and ``labels`` (windows, time), ``inputs``
        (windows, time, feature) or None."""
        positions = starts.view(-1, 1) + torch.arange(scores.shape[1], device=scores.device)  # (windows, time)
        on_axis = positions >= 0  # steps before the split are context only
        scored = on_axis & ~torch.isnan(scores)
        self._grow(int(positions.max()) + 1, inputs.shape[-1] if inputs is not None else 0, scores.device)
        self.total.index_add_(0, positions[scored], scores[scored].float())
        self.count.index_add_(0, positions[scored], torch.ones_like(positions[scored], dtype=torch.int32))
        points = positions[on_axis]
        self.labels[points] = labels[on_axis].to(torch.uint8)
        self.written[points] = 1
        if self.values is not None and inputs is not None:
            self.values[points] = inputs[on_axis].float()

    def reduce(self, reduce: Reduce) -> None:
        """Combine every rank's share (the same positions on every rank afterwards): sums and counts add up,
        a point's label and values are the same in every window that holds it, so any writer's will do."""
        length = int(reduce(torch.tensor(len(self.total), device=self.total.device), "max"))
        self._grow(length, exact=True)
        self.total, self.count = reduce(self.total, "sum"), reduce(self.count, "sum")
        self.labels = reduce(self.labels.int(), "max").to(torch.uint8)
        if self.values is not None:
            writers = reduce(self.written, "sum").clamp(min=1).unsqueeze(-1)
            self.values = reduce(self.values * self.written.unsqueeze(-1), "sum") / writers

    def series(self, smoothing: int = 1, release: bool = False) -> dict[str, torch.Tensor]:
        """One value per scored point, on the CPU: ``scores`` (mean over the windows that scored it, then a
        centred moving average over ``smoothing`` points), ``labels`` (uint8: a byte a point), ``points``
        (positions in the split: all of them unless evaluation was cut short) and, when kept, ``series`` (the
        input values). ``release``: free the sums, counts and inputs once read (sized by doubling, up to
        twice the points), so that what is built from the series does not sit beside them."""
        covered = self.count > 0
        scores = self.total[covered]
        scores /= self.count[covered]  # in place: the same float32 quotients, one copy fewer
        series = {"labels": self.labels[covered]}
        if self.values is not None:
            series["series"] = self.values[covered]
        if release:  # empty again (a later add grows them anew), before the positions and smoothing take memory of their own
            self.total, self.count = self.total.new_zeros(0), self.count.new_zeros(0)
            self.labels, self.written, self.values = self.labels.new_zeros(0), self.written.new_zeros(0), None
        series.update(scores=smooth(scores, smoothing), points=covered.nonzero().flatten())
        return {name: series[name].cpu() for name in ("scores", "labels", "points", "series") if name in series}
