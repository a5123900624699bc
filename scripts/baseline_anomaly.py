"""Classical detectors on exactly the splits an anomaly run is scored on, with the same metrics.

    python scripts/baseline_anomaly.py                                  # data=anomaly (synthetic)
    python scripts/baseline_anomaly.py data=anomaly_real                # UCR InternalBleeding16
    python scripts/baseline_anomaly.py data=anomaly --run outputs/<date>/<time>   # model row too

Rolling z-score: score of point t is the max over features of |x_t - mean| / std of the ``w`` points
before t (context from the preceding split is allowed, as for the model's windows). A second row does
the same on first differences x_t - x_{t-1}, which catches jitter and spikes that the raw values hide.

Sub-sequence PCA (the "Sub-PCA" of TSB-AD, Liu et al., NeurIPS 2024, among its strongest classical
detectors): every window of ``m`` consecutive points (all features) is a vector; the principal
subspace of the train split's windows keeps ``--pca-variance`` of their variance, and a window scores
its mean squared distance to that subspace (the reconstruction error, Shyu et al. 2003). A point's
score is the mean over the windows that hold it and end inside its split.

Each detector's setting (``w`` among --windows, ``m`` among --pca-windows) is picked by val AUPRC
when val has anomalies, else the middle one. The threshold follows the same rule as the task
(``task.threshold.*``, chosen on val), and VUS the task's ``task.vus_window``/``task.vus_thresholds``.
Prints AUROC, AUPRC, VUS-ROC, VUS-PR, point-wise, point-adjusted and range-based F1, event recall,
false alarms per 1,000 points and the UCR hit on the test split, and, with --run, the test metrics a
run wrote to its metrics.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
from hydra.utils import instantiate

from _compose import compose_train, with_default_data
from seqexp.data.anomaly_windows import AnomalyWindowsDataModule
from seqexp.metrics.anomaly import anomaly_metrics, average_precision, choose_threshold

COLUMNS = ("auroc", "auprc", "vus_roc", "vus_pr", "f1", "pa_f1", "range_f1", "event_recall", "false_alarms_per_1k", "ucr_hit")
Scorer = Callable[[str, int], torch.Tensor]  # (split, setting) -> one score per point of the split


def rolling_zscore(values: torch.Tensor, start: int, end: int, window: int) -> torch.Tensor:
    """Scores of points ``start..end-1`` of ``values`` ``(time, feature)`` from their ``window`` predecessors."""
    x = values.double()
    padded = torch.cat([torch.zeros(1, x.shape[1], dtype=x.dtype), x.cumsum(0)])
    squares = torch.cat([torch.zeros(1, x.shape[1], dtype=x.dtype), (x * x).cumsum(0)])
    points = torch.arange(start, end)
    first = (points - window).clamp(min=0)
    count = (points - first).clamp(min=1).unsqueeze(1).to(x.dtype)
    mean = (padded[points] - padded[first]) / count
    variance = ((squares[points] - squares[first]) / count - mean * mean).clamp(min=0)
    return ((x[points] - mean).abs() / (variance.sqrt() + 1e-6)).amax(1)  # float64: z-scores reach 1e6


def windows_of(values: torch.Tensor, window: int) -> torch.Tensor:
    """Every run of ``window`` consecutive points of ``values`` ``(time, feature)`` as one row ``(runs, window x feature)``."""
    return values.double().unfold(0, window, 1).reshape(len(values) - window + 1, -1)


def subsequence_pca(values: torch.Tensor, bounds: dict[str, tuple[int, int]], split: str, window: int, variance: float) -> torch.Tensor:
    """Scores of the points of ``split``: the mean reconstruction error of the windows holding each point
    (windows start up to ``window - 1`` points before the split and end inside it), against the principal
    subspace that keeps ``variance`` of the variance of the train split's windows."""
    train = windows_of(values[slice(*bounds["train"])], window)
    mean = train.mean(0)
    _, singular, directions = torch.linalg.svd(train - mean, full_matrices=False)
    kept = singular.pow(2).cumsum(0) / singular.pow(2).sum()
    components = directions[: int(torch.searchsorted(kept, torch.tensor(variance, dtype=kept.dtype))) + 1]
    start, end = bounds[split]
    first = max(start - window + 1, 0)  # the first window holding the split's first point
    centred = windows_of(values[first:end], window) - mean
    errors = (centred - centred @ components.T @ components).pow(2).mean(1)  # (windows,), window k starts at first + k
    total = torch.cat([torch.zeros(1, dtype=errors.dtype), errors.cumsum(0)])
    points = torch.arange(start, end) - first
    low, high = (points - window + 1).clamp(min=0), points.clamp(max=len(errors) - 1) + 1
    return (total[high] - total[low]) / (high - low)


def evaluate(
    datamodule: AnomalyWindowsDataModule, scorer: Scorer, settings: list[int], threshold: dict, tolerance: int, vus: dict
) -> tuple[int, dict[str, float]]:
    """The setting chosen on val and the detector's test metrics with it."""
    labels = {split: datamodule.labels[slice(*datamodule.bounds[split])].long() for split in ("val", "test")}
    if labels["val"].any():
        auprc = {setting: average_precision(scorer("val", setting), labels["val"]) for setting in settings}
        setting = max(auprc, key=auprc.get)
    else:
        setting = settings[len(settings) // 2]
    value, _ = choose_threshold(threshold["rule"], scorer("val", setting), labels["val"], threshold["quantile"], threshold["k"])
    return setting, anomaly_metrics(scorer("test", setting), labels["test"], value, tolerance, **vus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="overrides as for seqexp.train (default data=anomaly)")
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 25, 50, 100, 200], help="rolling window lengths to try")
    parser.add_argument("--pca-windows", type=int, nargs="+", default=[16, 32, 64, 128], help="sub-sequence PCA window lengths to try")
    parser.add_argument("--pca-variance", type=float, default=0.9, help="share of the train windows' variance the PCA subspace keeps")
    parser.add_argument("--run", type=Path, help="a run folder whose metrics.json to print beside the baselines")
    args = parser.parse_args()
    overrides = with_default_data(args.overrides, "anomaly")
    cfg = compose_train(overrides)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_series()
    values, bounds = datamodule.scaled_values(), datamodule.bounds
    differences = torch.cat([torch.zeros_like(values[:1]), torch.diff(values, dim=0)])
    common = {"threshold": dict(cfg.task.threshold), "tolerance": cfg.task.ucr_tolerance,
              "vus": {"vus_window": cfg.task.vus_window, "vus_thresholds": cfg.task.vus_thresholds}}
    rows = {}
    for name, series in (("rolling z-score", values), ("rolling z-score of differences", differences)):
        window, metrics = evaluate(datamodule, lambda split, w, series=series: rolling_zscore(series, *bounds[split], w),
                                   args.windows, **common)
        rows[f"{name} (w={window})"] = metrics
    window, metrics = evaluate(datamodule, lambda split, m: subsequence_pca(values, bounds, split, m, args.pca_variance),
                               args.pca_windows, **common)
    rows[f"sub-sequence PCA (m={window}, {args.pca_variance:g} of variance)"] = metrics
    if args.run is not None:
        run_metrics = json.loads((args.run / "metrics.json").read_text())["metrics"]
        rows[f"model ({args.run})"] = {name: run_metrics.get(f"test/{name}", float("nan")) for name in COLUMNS}
    start, end = bounds["test"]
    anomalous = int(datamodule.labels[start:end].sum())
    print(f"{' '.join(overrides)}: test split {end - start} points, {anomalous} anomalous; threshold rule {cfg.task.threshold.rule}; "
          f"VUS window {cfg.task.vus_window}")
    widths = {name: max(9, len(name) + 2) for name in COLUMNS}
    label_width = max(44, *(len(label) + 2 for label in rows))
    print(f"{'detector':<{label_width}}" + "".join(f"{name:>{widths[name]}}" for name in COLUMNS))
    for label, values_ in rows.items():
        print(f"{label:<{label_width}}" + "".join(f"{float('nan') if values_[name] is None else values_[name]:>{widths[name]}.4f}"
                                                   for name in COLUMNS))


if __name__ == "__main__":
    main()
