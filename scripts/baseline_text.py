"""TF-IDF + logistic regression on the same splits as ``data=text`` (or ``data=text_csv``), over a wider grid of C
than the one every run logs (``callbacks.baselines.text_strengths``; seqexp.baselines.text): the bar a recurrent
classifier should reach. Needs scikit-learn: ``pip install -e ".[baselines]"``.

    python scripts/baseline_text.py                       # data=text (Rotten Tomatoes)
    python scripts/baseline_text.py data=text_csv data.path=reviews.csv data.label_column=stars
    python scripts/baseline_text.py seed=7                 # another seed: other splits

Fits on train, picks the regularisation strength C on val, reports test accuracy and macro-F1.
"""

from __future__ import annotations

import argparse
import json
import time

from hydra.utils import instantiate
from omegaconf import DictConfig

from _compose import compose_train, with_default_data
from seqexp.baselines.text import tfidf_logistic_regression

STRENGTHS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0]  # wide: the best C must not sit at an edge


def main_with(cfg: DictConfig) -> dict[str, float]:
    started = time.perf_counter()
    datamodule = instantiate(cfg.data)
    inputs = datamodule.baseline_inputs()
    figures = tfidf_logistic_regression(inputs, STRENGTHS)
    result = {
        "C": figures["C"],
        **{name: round(figures[name], 4) for name in ("val/acc", "test/acc", "test/f1_macro")},
        "majority_class_test_acc": round(max(datamodule.class_balance()["test"].values()), 4),
        "train_texts": len(inputs.texts["train"]),
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="overrides as for seqexp.train (default data=text)")
    return main_with(compose_train(with_default_data(parser.parse_args(argv).overrides, "text")))


if __name__ == "__main__":
    main()
