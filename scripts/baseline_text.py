"""TF-IDF + logistic regression on the same splits as ``data=text`` (or ``data=text_csv``): the bar a
recurrent classifier should reach. Needs scikit-learn: ``pip install -e ".[baselines]"``.

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


def main_with(cfg: DictConfig) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    started = time.perf_counter()
    datamodule = instantiate(cfg.data)
    datamodule.prepare()
    texts = {split: [text for text, _ in examples] for split, examples in datamodule.splits.items()}
    labels = {split: [label for _, label in examples] for split, examples in datamodule.splits.items()}
    # Same tokens as the RNN sees (same tokenizer), unigrams and bigrams, sublinear term frequency.
    vectorizer = TfidfVectorizer(tokenizer=datamodule.tokenizer, lowercase=False, token_pattern=None,
                                 ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = {"train": vectorizer.fit_transform(texts["train"])}
    features.update({split: vectorizer.transform(texts[split]) for split in ("val", "test")})
    best = None
    for strength in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0):  # wide: the best C must not sit at an edge
        classifier = LogisticRegression(C=strength, max_iter=2000).fit(features["train"], labels["train"])
        val_accuracy = accuracy_score(labels["val"], classifier.predict(features["val"]))
        if best is None or val_accuracy > best[0]:
            best = (val_accuracy, strength, classifier)
    val_accuracy, strength, classifier = best
    predicted = classifier.predict(features["test"])
    result = {
        "C": strength,
        "val/acc": round(val_accuracy, 4),
        "test/acc": round(accuracy_score(labels["test"], predicted), 4),
        "test/f1_macro": round(f1_score(labels["test"], predicted, average="macro"), 4),
        "majority_class_test_acc": round(max(datamodule.class_balance()["test"].values()), 4),
        "train_texts": len(texts["train"]),
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
