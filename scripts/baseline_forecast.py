"""The forecast baselines that every `data=series` run logs (seqexp.baselines.forecast), printed as a table.

    python scripts/baseline_forecast.py                                   # seattle_temps, test split
    python scripts/baseline_forecast.py data.name=airline data.input_length=24 data.horizon=12
    python scripts/baseline_forecast.py data.name=co2 --run outputs/<date>/<time>   # model row too

Takes the same overrides as `python -m seqexp.train data=series ...`; prints MAE, RMSE, MAPE, sMAPE
and MASE (MAPE/sMAPE as fractions) of the last-value, seasonal-naive, train-mean and drift forecasts
on the run's windows, and, with --run, the test metrics a run wrote to its metrics.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hydra.utils import instantiate

from _compose import compose_train
from seqexp.baselines.forecast import forecast_baselines
from seqexp.data.series import SeriesDataModule

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def baseline_scores(datamodule: SeriesDataModule, split: str = "test") -> dict[str, dict[str, float]]:
    """Metrics of each baseline over ``split``'s windows (those that can be computed), by label."""
    labels = {"last_value": "last value", "seasonal_naive": f"seasonal naive (m={datamodule.season_length})", "train_mean": "train mean", "drift": "drift"}
    return {
        labels[name]: {metric: figures[f"{split}/{metric}"] for metric in METRICS}
        for name, figures in forecast_baselines(datamodule.baseline_inputs()).items()
        if isinstance(figures, dict)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="data.* overrides, as for seqexp.train")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--run", type=Path, help="a run folder whose metrics.json to print beside the baselines")
    args = parser.parse_args()
    cfg = compose_train(["data=series", *args.overrides])
    datamodule = instantiate(cfg.data)
    scores = baseline_scores(datamodule, args.split)
    if args.run is not None:
        metrics = json.loads((args.run / "metrics.json").read_text())["metrics"]
        scores[f"model ({args.run})"] = {name: metrics.get(f"{args.split}/{name}", float("nan")) for name in METRICS}
    source = cfg.data.path or cfg.data.name
    print(f"{source}: {args.split} split, {len(datamodule.origins(args.split))} windows, input_length={datamodule.input_length}, horizon={datamodule.horizon}")
    print(f"{'forecast':<40}" + "".join(f"{name:>10}" for name in METRICS))
    for label, values in scores.items():
        print(f"{label:<40}" + "".join(f"{values[name]:>10.4g}" for name in METRICS))


if __name__ == "__main__":
    main()
