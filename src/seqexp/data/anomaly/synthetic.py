"""Synthetic seasonal series with injected, labelled anomalies of named kinds (``data=anomaly``).

Each feature is a sum of sines (random periods, amplitudes, phases) plus a linear trend and
Gaussian noise, over one time axis split into train, val and test. Anomalies are then injected
into val and test (and into train at ``train_contamination``, 0 = a clean train split); each
covers one window of consecutive points on a random non-empty subset of features, and every
point of that window is labelled 1. Kinds (sizes relative to the feature's clean std ``s``):

    spike             1-3 points pushed by +-(3..5) s
    level_shift       the window offset by +-(1..2) s
    variance_burst    extra Gaussian noise of std (0.5..1) s
    flatline          the value frozen at the window's first point (a stuck sensor)
    frequency_change  the seasonal part played (1.8..2.5)x faster inside the window

Everything is deterministic from ``seed``. ``clean_values`` keeps the series before injection and
``anomalies`` lists what was injected where, so tests can check labels against the injections.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Annotated

import torch

from seqexp.checks import Range, check_arguments
from seqexp.data.anomaly.windows import SPLITS, AnomalyWindowsDataModule, check_int
from seqexp.data.core.contract import BatchSize, Workers
from seqexp.data.core.errors import DataError

log = logging.getLogger(__name__)

MAX_PLACEMENT_TRIES = 1000  # random positions tried per split before placing stops short (with a warning)
KINDS = ("spike", "level_shift", "variance_burst", "flatline", "frequency_change")


@dataclass(frozen=True)
class InjectedAnomaly:
    kind: str
    start: int  # absolute index of the first anomalous point
    end: int  # exclusive
    features: tuple[int, ...]


class SyntheticAnomalyDataModule(AnomalyWindowsDataModule):
    split_keys = ("data.anomaly_rate",)

    def __init__(
        self,
        num_features: int = 2,
        lengths: dict[str, int] | None = None,
        num_components: int = 3,
        period_range: tuple[float, float] = (20.0, 100.0),
        trend_per_1000: float = 0.2,
        noise_std: Annotated[float, Range(ge=0, finite=True)] = 0.05,
        kinds: tuple[str, ...] | list[str] = KINDS,
        anomaly_rate: float = 0.03,
        anomaly_length: tuple[int, int] = (10, 40),
        train_contamination: float = 0.0,
        window_length: int = 32,
        train_stride: int = 1,
        eval_stride: int = 1,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(window_length, train_stride, eval_stride, batch_size, num_workers, seed)
        self.num_features = check_int("data.num_features", num_features, 1)
        self.lengths = dict(lengths or {"train": 4000, "val": 2000, "test": 2000})
        for split in SPLITS:
            check_int(f"data.lengths.{split}", self.lengths.get(split), window_length)
        self.num_components = check_int("data.num_components", num_components, 1)
        self.period_range = tuple(float(p) for p in period_range)
        if not 2 <= self.period_range[0] <= self.period_range[1]:
            raise DataError(f"data.period_range={list(period_range)}: must be [low, high] with 2 <= low <= high")
        self.trend_per_1000 = float(trend_per_1000)
        check_arguments(type(self), "data", noise_std=noise_std)  # as the config pass does
        self.noise_std = float(noise_std)
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise DataError(f"data.kinds={list(kinds)}: must be a non-empty subset of {list(KINDS)}")
        self.kinds = tuple(kinds)
        for key, rate in (("data.anomaly_rate", anomaly_rate), ("data.train_contamination", train_contamination)):
            if not 0 <= rate < 0.5:
                raise DataError(f"{key}={rate}: must be a number in [0, 0.5)")
        self.anomaly_rate = float(anomaly_rate)
        self.train_contamination = float(train_contamination)
        low, high = anomaly_length
        if not 1 <= low <= high:
            raise DataError(f"data.anomaly_length={list(anomaly_length)}: must be [low, high] with 1 <= low <= high")
        self.anomaly_length = (int(low), int(high))
        self.clean_values: torch.Tensor | None = None  # (time, feature), before injection, not normalised
        self.anomalies: list[InjectedAnomaly] = []

    def _seasonal(self, times: torch.Tensor, periods: torch.Tensor, amplitudes: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
        """(time,) -> (time, feature): sum over components of amplitude * sin(2 pi t / period + phase)."""
        angle = 2 * math.pi * times.view(-1, 1, 1) / periods + phases  # (time, feature, component)
        return (amplitudes * torch.sin(angle)).sum(-1)

    def load_series(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        generator = torch.Generator().manual_seed(self.seed)
        total = sum(self.lengths[split] for split in SPLITS)
        shape = (self.num_features, self.num_components)
        low, high = self.period_range
        periods = low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)
        amplitudes = 0.5 + torch.rand(shape, generator=generator, dtype=torch.float64)
        phases = 2 * math.pi * torch.rand(shape, generator=generator, dtype=torch.float64)
        slopes = self.trend_per_1000 / 1000 * (2 * torch.rand(self.num_features, generator=generator, dtype=torch.float64) - 1)
        times = torch.arange(total, dtype=torch.float64)
        seasonal = self._seasonal(times, periods, amplitudes, phases)
        noise = self.noise_std * torch.randn(total, self.num_features, generator=generator, dtype=torch.float64)
        clean = seasonal + slopes * times.view(-1, 1) + noise
        self.clean_values = clean.float()

        bounds, start = {}, 0
        for split in SPLITS:
            bounds[split] = (start, start + self.lengths[split])
            start += self.lengths[split]
        values, labels = clean.clone(), torch.zeros(total, dtype=torch.long)
        scale = seasonal[: self.lengths["train"]].std(0)  # (feature,) clean spread, sets anomaly sizes
        rates = {"train": self.train_contamination, "val": self.anomaly_rate, "test": self.anomaly_rate}
        self.anomalies = []
        for split in SPLITS:
            for anomaly in self._place(split, bounds[split], rates[split], generator):
                self._inject(anomaly, values, times, periods, amplitudes, phases, scale, generator)
                labels[anomaly.start : anomaly.end] = 1
                self.anomalies.append(anomaly)
        return values.float(), labels, bounds

    def _place(self, split: str, bounds: tuple[int, int], rate: float, generator: torch.Generator) -> list[InjectedAnomaly]:
        """Non-overlapping anomalies, ``window_length`` apart and off the split's edges, until about
        ``rate`` of the split's points are anomalous; each kind at least once when rate > 0."""
        if rate <= 0:
            return []
        start, end = bounds
        target, gap = rate * (end - start), self.window_length
        if end - start < 2 * gap + self.anomaly_length[1]:
            raise DataError(
                f"data.lengths.{split}={end - start}: too short to hold a {self.anomaly_length[1]}-point anomaly "
                f"{gap} points (data.window_length) away from both ends of the split"
            )
        order = torch.randperm(len(self.kinds), generator=generator).tolist()
        placed: list[InjectedAnomaly] = []
        covered = 0
        for _ in range(MAX_PLACEMENT_TRIES):
            if covered >= target and len(placed) >= len(self.kinds):
                break
            kind = self.kinds[order[len(placed) % len(self.kinds)]]
            low, high = (1, 3) if kind == "spike" else self.anomaly_length
            length = int(torch.randint(low, high + 1, (1,), generator=generator))
            first = int(torch.randint(start + gap, end - gap - length + 1, (1,), generator=generator))
            if any(first < other.end + gap and other.start < first + length + gap for other in placed):
                continue
            chosen = torch.rand(self.num_features, generator=generator) < 0.5
            chosen[int(torch.randint(self.num_features, (1,), generator=generator))] = True
            placed.append(InjectedAnomaly(kind, first, first + length, tuple(torch.nonzero(chosen).flatten().tolist())))
            covered += length
        if covered < target:
            log.warning(
                "data: the %s split holds %d anomalous points, short of the %d its rate asks: no free place after %d tries "
                "(lower data.anomaly_rate / data.train_contamination or data.anomaly_length, or lengthen data.lengths.%s)",
                split,
                covered,
                round(target),
                MAX_PLACEMENT_TRIES,
                split,
            )
        return sorted(placed, key=lambda anomaly: anomaly.start)

    def _inject(
        self,
        anomaly: InjectedAnomaly,
        values: torch.Tensor,
        times: torch.Tensor,
        periods: torch.Tensor,
        amplitudes: torch.Tensor,
        phases: torch.Tensor,
        scale: torch.Tensor,
        generator: torch.Generator,
    ) -> None:
        span = slice(anomaly.start, anomaly.end)
        length = anomaly.end - anomaly.start
        for feature in anomaly.features:
            s = float(scale[feature])
            sign = 1.0 if torch.rand(1, generator=generator) < 0.5 else -1.0
            size = float(torch.rand(1, generator=generator, dtype=torch.float64))
            if anomaly.kind == "spike":
                values[span, feature] += sign * (3 + 2 * size) * s
            elif anomaly.kind == "level_shift":
                values[span, feature] += sign * (1 + size) * s
            elif anomaly.kind == "variance_burst":
                values[span, feature] += (0.5 + 0.5 * size) * s * torch.randn(length, generator=generator, dtype=torch.float64)
            elif anomaly.kind == "flatline":
                values[span, feature] = values[anomaly.start, feature].item()
            else:  # frequency_change: the seasonal part runs faster inside the window
                speed = 1.8 + 0.7 * size
                local = times[span]
                warped = anomaly.start + (local - anomaly.start) * speed
                change = self._seasonal(warped, periods, amplitudes, phases) - self._seasonal(local, periods, amplitudes, phases)
                values[span, feature] += change[:, feature]
