"""Sine/cos series, the seeds' task, generated once as ``(batch, time, feature)`` tensors.

Each split draws its windows from its own time range (train, then val, then test: disjoint), so a
model is evaluated on times it never saw. Everything is deterministic from ``seed``.

Targets:
    sin2cos   input sin(w t + p), target cos(w t + p) at every step
    lag       target = the clean input ``lag_steps`` steps earlier
    forecast  target = the next ``horizon`` clean values after the window

Stateful mode serves consecutive windows in order: row ``i`` of batch ``k + 1`` continues row ``i``
of batch ``k``, so the task can carry the hidden state across batches (truncated BPTT).
With ``chunks_per_batch=K`` the train loader serves K consecutive batches as one item,
``(chunk, batch, time, feature)``, and the task takes one optimizer step per chunk.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import torch

from seqexp.baselines.inputs import WindowRegressionInputs
from seqexp.checks import ConfigError, Range, check_arguments
from seqexp.data.core.batching import BatchedTensorDataset, TensorSplitLoaders
from seqexp.data.core.contract import BatchSize, SeqDataModule, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.spec import SPLITS, DataSpec

TARGETS = ("sin2cos", "lag", "forecast")


class SineDataModule(TensorSplitLoaders, SeqDataModule):
    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """Some steps of a window are scored after the burn-in. Stateful data carries each stream's hidden state from
        one window to the next: one stream per batch row, and no shuffling."""
        data = cfg["data"]
        window, burn_in, batch_size = data.get("window_length"), data.get("burn_in_steps"), data.get("batch_size")
        if isinstance(window, int) and burn_in is not None and not (isinstance(burn_in, int) and 0 <= burn_in < window):
            raise ConfigError(f"data.burn_in_steps={burn_in!r}: must be an integer in [0, data.window_length={window}) so some steps are scored")
        if data.get("stateful") is True and isinstance(batch_size, int):
            short = {split: count for split in SPLITS if isinstance(count := (data.get("num_windows") or {}).get(split), int) and count < batch_size}
            if short:
                raise ConfigError(f"data.stateful=true needs data.num_windows >= data.batch_size={batch_size} (one stream per batch row), got {short}")
        if data.get("stateful") is True and data.get("shuffle", True) is True:
            raise ConfigError("data.stateful=true with data.shuffle=true: stateful data serves windows in order, set data.shuffle=false")

    def __init__(
        self,
        target: str = "sin2cos",
        window_length: Annotated[int, Range(ge=1)] = 20,
        lag_steps: int = 5,
        horizon: int = 10,
        num_windows: dict[str, Annotated[int, Range(ge=1)]] | None = None,
        time_step: Annotated[float, Range(gt=0, finite=True)] = 0.1,
        frequency_range: tuple[float, float] = (1.0, 1.0),
        phase_range: tuple[float, float] = (0.0, 0.0),
        noise_std: Annotated[float, Range(ge=0, finite=True)] = 0.0,
        split_fractions: dict[str, float] | None = None,
        burn_in_steps: int = 0,
        stateful: bool = False,
        shuffle: bool = True,
        chunks_per_batch: int = 1,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if target not in TARGETS:
            raise DataError(f"data.target must be one of {TARGETS}, got {target!r}")
        check_arguments(type(self), "data", window_length=window_length, stateful=stateful, shuffle=shuffle)
        self.check_config({"data": {"stateful": stateful, "shuffle": shuffle}})
        if not isinstance(chunks_per_batch, int) or chunks_per_batch < 1:
            raise DataError(f"data.chunks_per_batch must be an integer >= 1, got {chunks_per_batch!r}")
        if chunks_per_batch > 1 and not stateful:
            raise DataError(
                f"data.chunks_per_batch={chunks_per_batch} serves consecutive batches of the same streams: it needs data.stateful=true (and data.shuffle=false)"
            )
        self.target = target
        self.window_length = window_length
        self.lag_steps = lag_steps
        self.horizon = horizon
        self.num_windows = dict(num_windows or {"train": 4096, "val": 512, "test": 512})
        self.time_step = time_step
        self.frequency_range = tuple(frequency_range)
        self.phase_range = tuple(phase_range)
        self.noise_std = noise_std
        self.split_fractions = dict(split_fractions or {"train": 0.8, "val": 0.1, "test": 0.1})
        self.burn_in_steps = burn_in_steps
        self.stateful = stateful
        self.shuffle = shuffle
        self.chunks_per_batch = chunks_per_batch
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, BatchedTensorDataset] = {}
        train_batches = self.num_windows["train"] // batch_size  # stateful: windows per stream
        if chunks_per_batch > 1 and train_batches % chunks_per_batch:
            # Every item then holds K chunks, so global_step stays a multiple of K at every batch end.
            raise DataError(
                f"data.chunks_per_batch={chunks_per_batch} must divide the {train_batches} training batches "
                "per epoch (data.num_windows.train // data.batch_size)"
            )

    @property
    def spec(self) -> DataSpec:
        forecast = self.target == "forecast"
        return DataSpec(
            input_kind="features",
            input_size=1,
            target_kind="horizon" if forecast else "per_step",
            output_size=1,
            horizon=self.horizon if forecast else 0,
            burn_in_steps=0 if forecast else self.burn_in_steps,
            stateful=self.stateful,
            chunks_per_batch=self.chunks_per_batch,
        )

    def _time_ranges(self) -> dict[str, tuple[float, float]]:
        """Disjoint, consecutive time ranges, one per split, long enough for each split's windows."""
        lengths = {split: self.num_windows[split] * self.window_length * self.time_step for split in SPLITS}
        span = max(lengths[split] / self.split_fractions[split] for split in SPLITS)
        ranges, start = {}, 0.0
        for split in SPLITS:
            end = start + span * self.split_fractions[split]
            ranges[split] = (start, end)
            start = end
        return ranges

    def _uniform(self, low_high: tuple[float, float], count: int, generator: torch.Generator) -> torch.Tensor:
        low, high = low_high
        return low + (high - low) * torch.rand(count, 1, generator=generator, dtype=torch.float64)

    def _window_times(self, split: str, time_range: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
        """(windows, steps) sample times. A window starts at its first input step's time (``starts`` below; the
        data layer's convention, ``seqexp.data.core.windows``); ``lag`` reads ``lag_steps`` earlier steps for its
        targets, ``forecast`` the ``horizon`` steps after. Stateful: one contiguous stream per batch row."""
        count = self.num_windows[split]
        lead = self.lag_steps if self.target == "lag" else 0
        tail = self.horizon if self.target == "forecast" else 0
        steps = torch.arange(-lead, self.window_length + tail, dtype=torch.float64) * self.time_step
        start, end = time_range
        if not self.stateful:
            latest = end - steps[-1].item()
            starts = start + lead * self.time_step + (latest - start - lead * self.time_step) * torch.rand(count, 1, generator=generator, dtype=torch.float64)
            return starts + steps
        streams = self.batch_size
        per_stream = count // streams
        stream_length = (end - start) / streams
        window_offsets = torch.arange(per_stream, dtype=torch.float64) * self.window_length * self.time_step
        stream_starts = start + lead * self.time_step + torch.arange(streams, dtype=torch.float64) * stream_length
        # Order windows as batches: batch k holds window k of every stream.
        starts = (window_offsets.view(-1, 1) + stream_starts.view(1, -1)).reshape(-1, 1)
        return starts + steps

    def _generate(self, split: str, time_range: tuple[float, float]) -> BatchedTensorDataset:
        generator = torch.Generator().manual_seed(self.seed * 1000 + SPLITS.index(split))
        times = self._window_times(split, time_range, generator)
        count = len(times)
        stream_ids = torch.arange(count) % self.batch_size if self.stateful else torch.arange(count)
        frequency = self._uniform(self.frequency_range, count, generator)[stream_ids]
        phase = self._uniform(self.phase_range, count, generator)[stream_ids]
        angle = frequency * times + phase
        clean = torch.sin(angle)
        lead = self.lag_steps if self.target == "lag" else 0
        window = slice(lead, lead + self.window_length)
        inputs = clean[:, window] + self.noise_std * torch.randn(count, self.window_length, generator=generator, dtype=torch.float64)
        if self.target == "sin2cos":
            targets = torch.cos(angle[:, window])
        elif self.target == "lag":
            targets = clean[:, : self.window_length]
        else:
            targets = clean[:, self.window_length :]
        # (windows, time) -> (windows, time, feature=1)
        return BatchedTensorDataset(inputs=inputs.float().unsqueeze(-1), targets=targets.float().unsqueeze(-1))

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split, time_range in self._time_ranges().items():
            self.datasets[split] = self._generate(split, time_range)

    def baseline_inputs(self) -> WindowRegressionInputs:
        """Every split's generated windows, as the model sees them."""
        self.setup()
        return WindowRegressionInputs(
            {split: self.datasets[split].tensors["inputs"] for split in SPLITS},
            {split: self.datasets[split].tensors["targets"] for split in SPLITS},
            self.spec.burn_in_steps,
            horizon=self.target == "forecast",
        )
