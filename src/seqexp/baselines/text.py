"""A bag-of-words linear classifier on the same texts and tokens as the model: TF-IDF of unigrams and bigrams
(sublinear term frequency) and a logistic regression (liblinear: several times faster than lbfgs on these sparse
features, within a point of its accuracy; one versus the rest for three classes or more, which scikit-learn's
liblinear no longer does itself), its strength ``C`` chosen on val. Scored like the task (accuracy, macro-F1). Needs scikit-learn (``pip install seqexp[baselines]``); without it the run says so.
"""

from __future__ import annotations

import torch

from seqexp.baselines.classification import classification_figures, majority_figures
from seqexp.baselines.inputs import TextClassificationInputs
from seqexp.baselines.outcome import Figures, Outcome

NEEDS_SKLEARN = "needs scikit-learn (pip install seqexp[baselines])"


def tfidf_logistic_regression(data: TextClassificationInputs, strengths: list[float]) -> Figures:
    """Val and test figures of the classifier whose ``C`` (among ``strengths``) scores the best val accuracy, and that ``C``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    vectorizer = TfidfVectorizer(tokenizer=data.tokenize, lowercase=False, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
    features = {"train": vectorizer.fit_transform(data.texts["train"])}
    features.update({split: vectorizer.transform(data.texts[split]) for split in ("val", "test")})
    best: tuple[float, Figures] | None = None
    for strength in strengths:
        classifier = LogisticRegression(C=strength, solver="liblinear")
        if data.labels["train"].unique().numel() > 2:
            classifier = OneVsRestClassifier(classifier)
        classifier.fit(features["train"], data.labels["train"].numpy())
        figures = {
            key: value
            for split in ("val", "test")
            for key, value in classification_figures(torch.as_tensor(classifier.predict(features[split])), data.labels[split], data.classes, split).items()
        }
        if best is None or figures["val/acc"] > best[0]:
            best = (figures["val/acc"], {**figures, "C": strength})
    return best[1]


def text_baselines(data: TextClassificationInputs, strengths: list[float]) -> dict[str, Outcome]:
    """The majority class and the TF-IDF classifier (or why there is none: no scikit-learn)."""
    outcomes: dict[str, Outcome] = {"majority_class": majority_figures(data.labels, data.classes, ["val", "test"])}
    try:
        import sklearn  # noqa: F401
    except ImportError:
        outcomes["tfidf_logreg"] = NEEDS_SKLEARN
        return outcomes
    outcomes["tfidf_logreg"] = tfidf_logistic_regression(data, strengths)
    return outcomes
