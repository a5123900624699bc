"""Measure `data=series` training budgets (`data.budget`) on series of many lengths and frequencies.

    python scripts/forecast_budget.py                                   # the default budget, seed 42, every series
    python scripts/forecast_budget.py --budget old --budget default     # today's default beside the old 30 epochs
    python scripts/forecast_budget.py --budget epochs=60,min_steps=2000,patience=0.2,figures=10 --seeds 0 1 2
    python scripts/forecast_budget.py --series airline lynx --results budget.json

Each run is the series' plain command, `python -m seqexp.train data=series ...` as a user types it
(defaults on: checkpoints, predictions, figures, logger), in a subprocess with one torch thread; a budget
other than `default` adds its `data.budget.*` overrides (`old`: `data.budget=null`, the trainer's own 30
epochs with validation every epoch). Prints, per series and budget, the validation MASE of the checkpoint
that was tested (the one `monitor` chose: what a budget is chosen on), its test MASE (report it only after
the choice), the optimizer steps run and the seconds. `--results` keeps every run's figures in a JSON file,
so a second call runs only what is missing.

The series: the seven built-in ones at the windows the README and conf/data/series.yaml give them, and
five public-domain series read from the statsmodels package where pip installs it (never imported:
`pip install --no-deps statsmodels` is enough): yearly Nile flow (100 years), quarterly US unemployment
and real GDP (203 quarters, `macrodata`), quarterly Danish log real money (55 quarters, `danish_data`)
and monthly euro-area electrical equipment orders (257 months, `elec_equip`). The statsmodels series
are skipped, with a note, when the package is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SHORT_WINDOWS = ["data.input_length=24", "data.horizon=12"]  # conf/data/series.yaml: airline, sunspots, lynx are short
BUILTIN = {
    "seattle_temps": [],  # hourly, 8,760 steps
    "sf_temps": ["data.name=sf_temps"],  # hourly, 8,760
    "seattle_weather": ["data.name=seattle_weather"],  # daily, 1,461, 4 variables
    "co2": ["data.name=co2"],  # weekly, 2,284
    "sunspots": ["data.name=sunspots", *SHORT_WINDOWS],  # yearly, 309
    "airline": ["data.name=airline", *SHORT_WINDOWS],  # monthly, 144
    "lynx": ["data.name=lynx", *SHORT_WINDOWS],  # yearly, 114
}
# name: (file inside the statsmodels package, overrides after data.path); frequencies' horizons as in the M4 competition.
STATSMODELS = {
    "nile": ("datasets/nile/nile.csv", ["data.time_column=year", "data.input_length=18", "data.horizon=6"]),
    "unemp": ("datasets/macrodata/macrodata.csv", ["data.columns=[unemp]", "data.input_length=16", "data.horizon=8", "data.season_length=4"]),
    "realgdp": ("datasets/macrodata/macrodata.csv", ["data.columns=[realgdp]", "data.input_length=16", "data.horizon=8", "data.season_length=4"]),
    "danish_money": ("datasets/danish_data/data.csv", ["data.columns=[lrm]", "data.input_length=8", "data.horizon=4", "data.season_length=4"]),
    "elec_equip": ("datasets/elec_equip/elec_equip.csv", ["data.time_column=DATE", "data.input_length=24", "data.horizon=12", "data.season_length=12"]),
}


def statsmodels_dir() -> Path | None:
    spec = importlib.util.find_spec("statsmodels")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def series_commands(names: list[str] | None) -> dict[str, list[str]]:
    commands = {name: ["data=series", *overrides] for name, overrides in BUILTIN.items()}
    package = statsmodels_dir()
    if package is None:
        print("statsmodels is not installed (pip install --no-deps statsmodels): its five series are left out", file=sys.stderr)
    else:
        for name, (file, overrides) in STATSMODELS.items():
            commands[name] = ["data=series", f"data.path={package / file}", *overrides]
    return {name: command for name, command in commands.items() if names is None or name in names}


def budget_overrides(budget: str) -> list[str]:
    if budget == "default":
        return []
    if budget == "old":
        return ["data.budget=null"]
    # epochs=60,min_steps=1000 (data.budget.* keys); an item with a dot is a whole override (callbacks.early_stopping.patience=30)
    return [item if "." in item.split("=")[0] else f"data.budget.{item}" for item in budget.split(",")]


def run(command: list[str], seed: int, folder: Path) -> dict:
    argv = [sys.executable, "-m", "seqexp.train", *command, f"seed={seed}", f"hydra.run.dir={folder}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    metrics = json.loads((folder / "metrics.json").read_text())
    return {"val_mase": metrics["best_score"], "test_mase": metrics["metrics"]["test/mase"], "steps": metrics["global_step"], "seconds": metrics["wall_time_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", action="append", help="default | old | data.budget keys, e.g. epochs=60,min_steps=1000 (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--series", nargs="+", help=f"some of {[*BUILTIN, *STATSMODELS]} (default: all)")
    parser.add_argument("--results", type=Path, help="JSON file of earlier runs: reused, and extended")
    args = parser.parse_args()
    budgets = args.budget or ["default"]
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else {}
    commands = series_commands(args.series)
    with tempfile.TemporaryDirectory() as scratch:
        for name, command in commands.items():
            for budget in budgets:
                for seed in args.seeds:
                    key = " ".join([*command, *budget_overrides(budget), f"seed={seed}"])
                    if key not in results:
                        results[key] = run([*command, *budget_overrides(budget)], seed, Path(scratch, f"{name}-{len(results)}"))
                        if args.results:
                            args.results.write_text(json.dumps(results, indent=1))
                    figures = results[key]
                    print(
                        f"{name:<16} {budget:<36} seed {seed:>2}: val MASE {figures['val_mase']:.3f}  test MASE "
                        f"{figures['test_mase']:.3f}  {figures['steps']:>5} steps  {figures['seconds']:6.1f} s",
                        flush=True,
                    )
    print("\nmean validation MASE over the seeds (test MASE in brackets); budgets:")
    for number, budget in enumerate(budgets, 1):
        print(f"  B{number}: {budget}")
    print(f"{'series':<16}" + "".join(f"{f'B{number}':>16}" for number in range(1, len(budgets) + 1)))
    for name, command in commands.items():
        cells = []
        for budget in budgets:
            runs = [results[" ".join([*command, *budget_overrides(budget), f"seed={seed}"])] for seed in args.seeds]
            cells.append(f"{statistics.mean(r['val_mase'] for r in runs):.3f} ({statistics.mean(r['test_mase'] for r in runs):.3f})")
        print(f"{name:<16}" + "".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    main()
