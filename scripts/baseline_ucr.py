"""1-NN DTW, the archive's reference classifier, on the same TRAIN/TEST files as `data=ucr`.

    python scripts/baseline_ucr.py                          # every built-in problem
    python scripts/baseline_ucr.py GunPoint JapaneseVowels
    python scripts/baseline_ucr.py --train my_TRAIN.ts --test my_TEST.ts

Full warping window, dependent DTW for several channels (squared Euclidean distance between
the channel vectors of two steps), data as stored in the files: the setting of the archive's
"DTW (w=100)" and "DTW_D" columns. Prints test accuracy per problem.
"""

from __future__ import annotations

import argparse
import time

from seqexp.baselines.classification import dtw_distances
from seqexp.data.ucr.datamodule import BUILTIN_PROBLEMS, _asset
from seqexp.data.ucr.ts_format import TsDataset, read_ts


def one_nn_accuracy(train: TsDataset, test: TsDataset) -> float:
    distances = dtw_distances(test.series, train.series)
    nearest = distances.argmin(dim=1)
    predicted = [train.labels[index] for index in nearest.tolist()]
    return sum(p == t for p, t in zip(predicted, test.labels)) / len(test.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(BUILTIN_PROBLEMS), help="built-in problems")
    parser.add_argument("--train", help="your own TRAIN .ts file (with --test)")
    parser.add_argument("--test", help="your own TEST .ts file (with --train)")
    args = parser.parse_args()
    problems = {"yours": (args.train, args.test)} if args.train else {name: (_asset(name, "TRAIN"), _asset(name, "TEST")) for name in args.names}
    print(f"{'problem':<20}{'train':>7}{'test':>7}{'1-NN DTW acc':>14}{'seconds':>9}")
    for name, (train_path, test_path) in problems.items():
        started = time.perf_counter()
        train, test = read_ts(train_path), read_ts(test_path)
        accuracy = one_nn_accuracy(train, test)
        print(f"{name:<20}{len(train.series):>7}{len(test.series):>7}{accuracy:>14.3f}{time.perf_counter() - started:>9.1f}")


if __name__ == "__main__":
    main()
