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
from pathlib import Path

import torch
from hydra.utils import instantiate

from _compose import compose_train, with_default_data
from seqexp.baselines import AnomalyInputs, AnomalyScoring
from seqexp.baselines.anomaly import evaluate, rolling_zscore, subsequence_pca

COLUMNS = ("auroc", "auprc", "vus_roc", "vus_pr", "f1", "pa_f1", "range_f1", "event_recall", "false_alarms_per_1k", "ucr_hit")


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
    data = datamodule.baseline_inputs()
    values, bounds = data.values[:], data.bounds  # every row, scaled
    differences = AnomalyInputs(torch.cat([torch.zeros_like(values[:1]), torch.diff(values, dim=0)]), data.labels, bounds)
    scoring = AnomalyScoring(dict(cfg.task.threshold), cfg.task.ucr_tolerance, cfg.task.vus_window, cfg.task.vus_thresholds)
    rows = {}
    for name, series in (("rolling z-score", data), ("rolling z-score of differences", differences)):
        window, figures = evaluate(series, lambda split, w, series=series: rolling_zscore(series.values, *bounds[split], w), args.windows, scoring)
        rows[f"{name} (w={window})"] = {column: figures[f"test/{column}"] for column in COLUMNS}
    window, figures = evaluate(data, lambda split, m: subsequence_pca(values, bounds, split, m, args.pca_variance), args.pca_windows, scoring)
    rows[f"sub-sequence PCA (m={window}, {args.pca_variance:g} of variance)"] = {column: figures[f"test/{column}"] for column in COLUMNS}
    if args.run is not None:
        run_metrics = json.loads((args.run / "metrics.json").read_text())["metrics"]
        rows[f"model ({args.run})"] = {name: run_metrics.get(f"test/{name}", float("nan")) for name in COLUMNS}
    start, end = bounds["test"]
    anomalous = int(data.labels[start:end].sum())
    print(
        f"{' '.join(overrides)}: test split {end - start} points, {anomalous} anomalous; threshold rule {cfg.task.threshold.rule}; "
        f"VUS window {cfg.task.vus_window}"
    )
    widths = {name: max(9, len(name) + 2) for name in COLUMNS}
    label_width = max(44, *(len(label) + 2 for label in rows))
    print(f"{'detector':<{label_width}}" + "".join(f"{name:>{widths[name]}}" for name in COLUMNS))
    for label, values_ in rows.items():
        print(f"{label:<{label_width}}" + "".join(f"{float('nan') if values_[name] is None else values_[name]:>{widths[name]}.4f}" for name in COLUMNS))


if __name__ == "__main__":
    main()
