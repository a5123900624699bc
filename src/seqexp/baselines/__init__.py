"""The classical baselines of a run's task, on the splits its model sees, scored by the model's own metrics.

``compute_baselines(inputs, options)`` takes what the DataModule's ``baseline_inputs()`` gives and returns, per
baseline, its figures under the model's metric names (``val/mase``, ``test/acc``, ...) or one sentence saying why
it has none. ``seqexp.callbacks.Baselines`` logs them as ``baseline/<name>/<metric>`` when test starts.
Nothing here knows Lightning, Hydra or a DataModule: plain functions over tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqexp.baselines.anomaly import AnomalyScoring, anomaly_baselines
from seqexp.baselines.classification import case_baselines
from seqexp.baselines.forecast import forecast_baselines
from seqexp.baselines.inputs import (
    AnomalyInputs,
    BaselineInputs,
    CaseClassificationInputs,
    SeriesForecastInputs,
    SlicedRows,
    TextClassificationInputs,
    WindowRegressionInputs,
)
from seqexp.baselines.outcome import Figures, Outcome
from seqexp.baselines.regression import regression_baselines
from seqexp.baselines.text import text_baselines


@dataclass(frozen=True)
class BaselineOptions:
    """The knobs of ``callbacks.baselines`` (conf/callbacks/default.yaml says what each means)."""

    dtw: bool = False
    anomaly_windows: tuple[int, ...] = (10, 25, 50, 100, 200)
    text_strengths: tuple[float, ...] = (1.0, 4.0, 16.0)
    anomaly_scoring: AnomalyScoring = field(default_factory=AnomalyScoring)


def headline_metric(inputs: BaselineInputs) -> tuple[str, str]:
    """The val metric and its direction that say whether the model beats the baselines of ``inputs``' kind, when the
    run monitors a metric that the baselines lack (``val/loss``)."""
    if isinstance(inputs, SeriesForecastInputs):
        return "val/mase", "min"
    if isinstance(inputs, WindowRegressionInputs):
        return "val/mse", "min"
    if isinstance(inputs, AnomalyInputs):
        return "val/vus_pr", "max"
    return "val/acc", "max"


def compute_baselines(inputs: BaselineInputs, options: BaselineOptions) -> dict[str, Outcome]:
    """Every baseline of the kind of ``inputs``: ``{name: {"val/<metric>": value, "test/<metric>": value} or reason}``."""
    if isinstance(inputs, SeriesForecastInputs):
        return forecast_baselines(inputs)
    if isinstance(inputs, WindowRegressionInputs):
        return regression_baselines(inputs)
    if isinstance(inputs, CaseClassificationInputs):
        return case_baselines(inputs, options.dtw)
    if isinstance(inputs, TextClassificationInputs):
        return text_baselines(inputs, list(options.text_strengths))
    if isinstance(inputs, AnomalyInputs):
        return anomaly_baselines(inputs, options.anomaly_scoring, list(options.anomaly_windows))
    raise TypeError(f"no baselines for {type(inputs).__name__}")


__all__ = [
    "AnomalyInputs",
    "AnomalyScoring",
    "BaselineInputs",
    "BaselineOptions",
    "CaseClassificationInputs",
    "Figures",
    "Outcome",
    "SeriesForecastInputs",
    "SlicedRows",
    "TextClassificationInputs",
    "WindowRegressionInputs",
    "compute_baselines",
    "headline_metric",
]
