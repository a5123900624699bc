"""Rolling z-score detector on exactly the splits an anomaly run is scored on, with the same metrics.

    python scripts/baseline_anomaly.py                                  # data=anomaly (synthetic)
    python scripts/baseline_anomaly.py data=anomaly_real                # UCR InternalBleeding16
    python scripts/baseline_anomaly.py data=anomaly --run outputs/<date>/<time>   # model row too

Score of point t: max over features of |x_t - mean| / std of the ``w`` points before t (context
from the preceding split is allowed, as for the model's windows). A second row does the same on
first differences x_t - x_{t-1}, which catches jitter and spikes that the raw values hide. ``w`` is picked among --windows
by val AUPRC when val has anomalies, else the middle one. The threshold follows the same rule as
the task (``task.threshold.*``, chosen on val). Prints AUROC, AUPRC, point-wise and point-adjusted
F1, event recall, false alarms per 1,000 points and the UCR hit on the test split, and, with
--run, the test metrics a run wrote to its metrics.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from _compose import compose_train, with_default_data
from hydra.utils import instantiate

from seqexp.data.anomaly_windows import AnomalyWindowsDataModule
from seqexp.metrics.anomaly import anomaly_metrics, average_precision, choose_threshold

COLUMNS = ("auroc", "auprc", "f1", "pa_f1", "event_recall", "false_alarms_per_1k", "ucr_hit")


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


def split_scores(
    datamodule: AnomalyWindowsDataModule, split: str, window: int, differences: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    datamodule.prepare_series()
    start, end = datamodule.bounds[split]
    values = datamodule.scaled_values()
    if differences:
        values = torch.cat([torch.zeros_like(values[:1]), torch.diff(values, dim=0)])
    return rolling_zscore(values, start, end, window), datamodule.labels[start:end].long()


def baseline(
    datamodule: AnomalyWindowsDataModule, threshold: dict, windows: list[int], tolerance: int = 100, differences: bool = False
) -> tuple[int, dict[str, float]]:
    """The chosen window and the test metrics of the rolling z-score detector."""
    val_labels = split_scores(datamodule, "val", windows[0])[1]
    if val_labels.any():
        auprc = {w: average_precision(*split_scores(datamodule, "val", w, differences)) for w in windows}
        window = max(auprc, key=auprc.get)
    else:
        window = windows[len(windows) // 2]
    val_scores, val_labels = split_scores(datamodule, "val", window, differences)
    value, _ = choose_threshold(threshold["rule"], val_scores, val_labels, threshold["quantile"], threshold["k"])
    test_scores, test_labels = split_scores(datamodule, "test", window, differences)
    return window, anomaly_metrics(test_scores, test_labels, value, tolerance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="overrides as for seqexp.train (default data=anomaly)")
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 25, 50, 100, 200], help="rolling window lengths to try")
    parser.add_argument("--run", type=Path, help="a run folder whose metrics.json to print beside the baseline")
    args = parser.parse_args()
    overrides = with_default_data(args.overrides, "anomaly")
    cfg = compose_train(overrides)
    datamodule = instantiate(cfg.data)
    rows = {}
    for differences in (False, True):
        window, metrics = baseline(datamodule, dict(cfg.task.threshold), args.windows, cfg.task.ucr_tolerance, differences)
        rows[f"rolling z-score{' of differences' if differences else ''} (w={window})"] = metrics
    if args.run is not None:
        run_metrics = json.loads((args.run / "metrics.json").read_text())["metrics"]
        rows[f"model ({args.run})"] = {name: run_metrics.get(f"test/{name}", float("nan")) for name in COLUMNS}
    start, end = datamodule.bounds["test"]
    anomalous = int(datamodule.labels[start:end].sum())
    print(f"{' '.join(overrides)}: test split {end - start} points, {anomalous} anomalous; threshold rule {cfg.task.threshold.rule}")
    widths = {name: max(10, len(name) + 2) for name in COLUMNS}
    print(f"{'detector':<44}" + "".join(f"{name:>{widths[name]}}" for name in COLUMNS))
    for label, values in rows.items():
        print(f"{label:<44}" + "".join(f"{values[name]:>{widths[name]}.4f}" for name in COLUMNS))


if __name__ == "__main__":
    main()
