"""Compare UCR settings without touching TEST: k-fold cross-validation inside the TRAIN file.

    python scripts/cv_inside_train.py ItalyPowerDemand -- experiment=ucr
    python scripts/cv_inside_train.py ItalyPowerDemand -- experiment=ucr data.val_fraction=0.2
    python scripts/cv_inside_train.py --train Mine_TRAIN.ts -- experiment=ucr model=lstm

The TRAIN file is cut into stratified folds. For each fold, the whole procedure that the overrides
describe (its own validation split and checkpoint choice included) trains on the other folds, and the
held-out fold is its test split. The archive's training sets are tiny (40-270 cases), so a single
validation split of 8-54 cases cannot tell two settings apart; every TRAIN case scored once can.
Prints held-out accuracy and loss per fold and their means; each call writes its folds and runs to a
folder of its own, ``<--out>/<problem>/<date>/<time>/fold_<k>/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import torch

from seqexp.data.ucr.datamodule import _asset
from seqexp.data.ucr.ts_format import _lines, read_ts

SET_PER_FOLD = ("data.train_path", "data.test_path", "hydra.run.dir")


def case_lines(path: Path) -> tuple[list[str], list[str]]:
    """The header lines (through ``@data``) and one line per case of a ``.ts`` file, read as ``read_ts`` reads them."""
    lines = [line for _, line in _lines(path)]
    start = next(i for i, line in enumerate(lines) if line.lower() == "@data") + 1
    return lines[:start], [line for line in lines[start:] if line and not line.startswith("#")]


def stratified_folds(labels: list[str], folds: int, seed: int) -> list[list[int]]:
    """Case indices per fold: each label's cases in a seeded order, dealt out in turn, so every fold keeps
    the class balance and sizes differ by at most one."""
    generator = torch.Generator().manual_seed(seed)
    dealt: list[list[int]] = [[] for _ in range(folds)]
    position = 0
    for label in sorted(set(labels)):
        members = [i for i, case_label in enumerate(labels) if case_label == label]
        for i in torch.randperm(len(members), generator=generator).tolist():
            dealt[position % folds].append(members[i])
            position += 1
    return [sorted(fold) for fold in dealt]


def write_folds(train_file: Path, folds: int, seed: int, out: Path) -> list[tuple[Path, Path]]:
    """``(fit, held_out)`` ``.ts`` files per fold, written under ``out/fold_<k>/``."""
    labels = read_ts(train_file).labels  # also checks the file, naming it and the line on bad input
    header, cases = case_lines(train_file)
    if len(cases) != len(labels):
        raise SystemExit(f"{train_file}: read {len(labels)} cases but found {len(cases)} case lines")
    if folds < 2 or folds > min(labels.count(label) for label in set(labels)):
        raise SystemExit(f"--folds {folds}: must be at least 2 and at most the smallest class's size")
    pairs = []
    for k, held_out in enumerate(stratified_folds(labels, folds, seed)):
        folder = out / f"fold_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        kept = sorted(set(range(len(cases))) - set(held_out))
        for name, indices in (("fit_TRAIN.ts", kept), ("held_out_TEST.ts", held_out)):
            (folder / name).write_text("\n".join(header + [cases[i] for i in indices]) + "\n", encoding="utf-8")
        pairs.append((folder / "fit_TRAIN.ts", folder / "held_out_TEST.ts"))
    return pairs


def score_fold(overrides: list[str], fit: Path, held_out: Path) -> dict[str, float]:
    """Run ``seqexp.train`` as a user would, on one fold; its test metrics are the held-out fold's."""
    run_dir = fit.parent / "run"
    command = [
        sys.executable,
        "-m",
        "seqexp.train",
        "callbacks.progress_bar=null",
        *overrides,  # a user's bar setting wins
        f"data.train_path={fit}",
        f"data.test_path={held_out}",
        f"hydra.run.dir={run_dir}",
    ]
    with open(fit.parent / "train.out", "w", encoding="utf-8") as log:
        if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"fold {fit.parent.name} failed: see {fit.parent / 'train.out'}")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    return {"acc": metrics["test/acc"], "loss": metrics["test/loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", nargs="?", help="a built-in problem (e.g. ItalyPowerDemand)")
    parser.add_argument("--train", type=Path, help="your own <Name>_TRAIN.ts instead of a built-in problem")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="draws the folds")
    parser.add_argument("--out", type=Path, default=Path("outputs/cv_inside_train"))
    parser.epilog = "After --: the run's overrides, as for python -m seqexp.train (e.g. experiment=ucr)."
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, overrides = parser.parse_args(argv[:cut]), argv[cut + 1 :]
    if (args.problem is None) == (args.train is None):
        parser.error("give a built-in problem or --train, not both")
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in SET_PER_FOLD:
            parser.error(f"{key} is set per fold by this script; leave it out of the overrides")
    train_file = args.train if args.train is not None else _asset(args.problem, "TRAIN")
    out = args.out / (args.problem or train_file.name.split("_TRAIN")[0]) / datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")
    pairs = write_folds(train_file, args.folds, args.seed, out)
    print(f"Folds and runs: {out}", flush=True)
    scores = []
    for k, (fit, held_out) in enumerate(pairs):
        scores.append(score_fold(overrides, fit, held_out))
        print(f"fold {k}: held-out accuracy {scores[-1]['acc']:.4f}, loss {scores[-1]['loss']:.4f}", flush=True)
    mean = {key: statistics.mean(score[key] for score in scores) for key in ("acc", "loss")}
    print(f"mean over {args.folds} folds: held-out accuracy {mean['acc']:.4f}, loss {mean['loss']:.4f}")


if __name__ == "__main__":
    main()
