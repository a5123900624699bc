"""Naive forecasts on exactly the windows a `data=series` run is scored on, with the same metrics.

    python scripts/baseline_forecast.py                                   # seattle_temps, test split
    python scripts/baseline_forecast.py data.name=airline data.input_length=24 data.horizon=12
    python scripts/baseline_forecast.py data.name=co2 --run outputs/<date>/<time>   # model row too

Takes the same overrides as `python -m seqexp.train data=series ...`; prints MAE, RMSE, MAPE, sMAPE
and MASE (MAPE/sMAPE as fractions) of the last-value and seasonal-naive forecasts, and, with
--run, the test metrics a run wrote to its metrics.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from hydra.utils import instantiate

from _compose import compose_train
from seqexp.data.series import SeriesDataModule
from seqexp.metrics.forecast import forecast_metrics, naive_forecast

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def baseline_scores(datamodule: SeriesDataModule, split: str = "test") -> dict[str, dict[str, float]]:
    """Metrics of the last-value and seasonal-naive forecasts over ``split``'s windows."""
    series = datamodule.load().values[:, datamodule.target_indices]  # (time, targets), original units
    origins = datamodule.origins(split)
    truth = series[origins.unsqueeze(1) + torch.arange(datamodule.horizon)]
    scale = datamodule.mase_scale()
    scores = {}
    for label, season in (("last value", 1), (f"seasonal naive (m={datamodule.season_length})", datamodule.season_length)):
        metrics = forecast_metrics()
        metrics.update(naive_forecast(series, origins, datamodule.horizon, season).float(), truth.float(), scale=scale.float())
        scores[label] = {name: float(value) for name, value in metrics.compute().items()}
    return scores


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
    print(f"{source}: {args.split} split, {len(datamodule.origins(args.split))} windows, "
          f"input_length={datamodule.input_length}, horizon={datamodule.horizon}")
    print(f"{'forecast':<40}" + "".join(f"{name:>10}" for name in METRICS))
    for label, values in scores.items():
        print(f"{label:<40}" + "".join(f"{values[name]:>10.4g}" for name in METRICS))


if __name__ == "__main__":
    main()
