"""Peak memory and start-up time of a training run as the series grows: memory should follow the points,
not points x window (windows are index arithmetic, ``seqexp.data.core.windows``).

    python scripts/memory_scaling.py                          # 10k, 2M and 5M-point CSVs
    python scripts/memory_scaling.py --csv-points 10000 100000 --npy-points 50000000

Each case writes a labelled series (a noisy sine, ``value`` and ``label`` columns; the ``.npy`` is a
structured array with the same fields, memory-mapped) and runs, in a fresh process, exactly what a user
types:

    python -m seqexp.train data=anomaly_csv data.path=<file> data.label_column=label trainer.max_epochs=1 trainer.limit_train_batches=1

with every default but the training length (one epoch of one batch, then a full validation run): full
validation and test, the figures and ``predictions/test.csv``. So the run measures reading the file, splitting,
scaling, scoring every val and test point twice over (test, then the prediction file) and writing the
file, not training. It prints one JSON line per case: peak resident memory of that process
(``ru_maxrss`` from ``os.wait4``) and the run's wall time, then the growth over the smallest case.
``--npy-points N`` adds a memory-mapped ``.npy`` case (off by default: full evaluation of 50M points
takes hours on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS_PER_WRITE = 1_000_000  # rows formatted at a time: the writer's own memory stays small


def labelled_series(start: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(start, start + count)
    values = np.sin(steps * 2 * np.pi / 50) + 0.1 * rng.standard_normal(count)
    labels = (steps % 10_000 >= 9_990).astype(np.uint8)  # a 10-point anomaly every 10,000 points
    values[labels == 1] += 3.0
    return values.astype(np.float32), labels


def write_csv(path: Path, points: int) -> None:
    rng = np.random.default_rng(0)
    with path.open("w") as file:
        file.write("value,label\n")
        for start in range(0, points, ROWS_PER_WRITE):
            values, labels = labelled_series(start, min(ROWS_PER_WRITE, points - start), rng)
            file.write("".join(f"{value:.5f},{label}\n" for value, label in zip(values.tolist(), labels.tolist())))


def write_npy(path: Path, points: int) -> None:
    rng = np.random.default_rng(0)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=[("value", "f4"), ("label", "u1")], shape=(points,))
    for start in range(0, points, ROWS_PER_WRITE):
        values, labels = labelled_series(start, min(ROWS_PER_WRITE, points - start), rng)
        array["value"][start : start + len(values)], array["label"][start : start + len(values)] = values, labels
    array.flush()


def measure(data_file: Path, run_dir: Path, threads: int) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "seqexp.train",
        "data=anomaly_csv",
        f"data.path={data_file}",
        "data.label_column=label",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"run failed on {data_file}:\n{process.stderr.read()[-2000:]}")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "run_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv-points", type=int, nargs="+", default=[10_000, 2_000_000, 5_000_000])
    parser.add_argument("--npy-points", type=int, default=0, help="points of a .npy case; 0: none")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    cases = [("csv", points) for points in args.csv_points] + ([("npy", args.npy_points)] if args.npy_points else [])
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, points in cases:
            data_file = Path(folder) / f"series_{points}.{kind}"
            (write_csv if kind == "csv" else write_npy)(data_file, points)
            result = {
                "file": kind,
                "points": points,
                "file_mb": data_file.stat().st_size / 2**20,
                **measure(data_file, Path(folder) / f"run_{kind}_{points}", args.threads),
            }
            data_file.unlink()
            results.append(result)
            print(json.dumps({key: round(value, 1) if isinstance(value, float) else value for key, value in result.items()}), flush=True)
    smallest = results[0]
    for result in results[1:]:
        print(
            f"{result['file']} {result['points']:,} points: peak memory +{result['peak_rss_mb'] - smallest['peak_rss_mb']:.0f} MB "
            f"over {smallest['points']:,} points, run {result['run_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
