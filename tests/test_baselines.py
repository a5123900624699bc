"""seqexp.baselines: each baseline against a computation written out here, on inputs that stress it."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from seqexp.baselines import (
    AnomalyInputs,
    AnomalyScoring,
    CaseClassificationInputs,
    SeriesForecastInputs,
    TextClassificationInputs,
    WindowRegressionInputs,
)
from seqexp.baselines import anomaly as anomaly_module
from seqexp.baselines.anomaly import anomaly_baselines, rolling_zscore
from seqexp.baselines.classification import case_baselines, dtw_distances
from seqexp.baselines.forecast import forecast_baselines
from seqexp.baselines.regression import regression_baselines
from seqexp.baselines.text import NEEDS_SKLEARN, text_baselines


def series_inputs(values: np.ndarray, origins: dict[str, list[int]], horizon: int, season: int, train: tuple[int, int]) -> SeriesForecastInputs:
    table = torch.tensor(values, dtype=torch.float64)
    history = table[slice(*train)]
    scale = (history[season:] - history[:-season]).abs().mean(0)
    return SeriesForecastInputs(table, {split: torch.tensor(rows) for split, rows in origins.items()}, horizon, train, season, scale)


def test_seasonal_naive_mase_worked_out_by_hand() -> None:
    # One column, season 2, train rows 0-5: seasonal-naive MAE of train = mean |y[t] - y[t-2]| = (2+2+2+2)/4 = 2.
    values = np.array([[1.0], [5.0], [3.0], [7.0], [5.0], [9.0], [8.0], [10.0], [6.0], [14.0]])
    data = series_inputs(values, {"val": [6], "test": [7]}, horizon=3, season=2, train=(0, 6))
    outcome = forecast_baselines(data)["seasonal_naive"]
    # test window: targets rows 7, 8, 9 = 10, 6, 14; forecasts repeat rows 5, 6, 5 (k=2 wraps to the same phase) = 9, 8, 9.
    # |errors| = 1, 2, 5; MASE = mean(1, 2, 5) / 2 = 4/3; MAE = 8/3.
    assert outcome["test/mase"] == pytest.approx(4 / 3)
    assert outcome["test/mae"] == pytest.approx(8 / 3)
    assert outcome["test/rmse"] == pytest.approx(math.sqrt((1 + 4 + 25) / 3))


def test_forecast_baselines_match_loops_over_windows_and_columns() -> None:
    generator = np.random.default_rng(0)
    steps = np.arange(80)
    values = np.stack([10 + 3 * np.sin(steps * 2 * np.pi / 7) + 0.1 * steps, 50 + generator.normal(0, 5, 80)], axis=1)
    train, season, horizon = (0, 50), 7, 10  # horizon longer than a season: the seasonal forecast wraps
    origins = {"val": list(range(50, 61)), "test": list(range(61, 71))}
    outcomes = forecast_baselines(series_inputs(values, origins, horizon, season, train))
    scale = np.abs(values[season:50] - values[: 50 - season]).mean(0)
    mean = values[:50].mean(0)

    def forecast(name: str, origin: int, k: int) -> np.ndarray:  # step k = 0..horizon-1 of the window at origin
        last = values[origin - 1]
        if name == "last_value":
            return last
        if name == "seasonal_naive":
            return values[origin + k - season * (k // season + 1)]
        if name == "train_mean":
            return mean
        return last + (k + 1) * (last - values[0]) / (origin - 1)  # drift from the first train row

    for name in ("last_value", "seasonal_naive", "train_mean", "drift"):
        for split, rows in origins.items():
            errors = np.array([[forecast(name, origin, k) - values[origin + k] for k in range(horizon)] for origin in rows])
            assert outcomes[name][f"{split}/mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-5), name
            assert outcomes[name][f"{split}/mase"] == pytest.approx((np.abs(errors) / scale).mean(), rel=1e-5), name
            truth = np.array([[values[origin + k] for k in range(horizon)] for origin in rows])
            smape = np.mean(2 * np.abs(errors) / np.maximum(np.abs(truth) + np.abs(errors + truth), 1.17e-6))
            assert outcomes[name][f"{split}/smape"] == pytest.approx(smape, rel=1e-4), name


def test_a_season_longer_than_the_history_says_why_rather_than_nan() -> None:
    values = np.arange(40, dtype=float).reshape(-1, 1) % 5
    outcomes = forecast_baselines(series_inputs(values + 1, {"val": [12, 13], "test": [30]}, 2, season=14, train=(0, 30)))
    assert isinstance(outcomes["seasonal_naive"], str) and "season_length=14" in outcomes["seasonal_naive"]
    assert "row 12" in outcomes["seasonal_naive"]
    assert all(math.isfinite(value) for value in outcomes["last_value"].values())
    one = forecast_baselines(series_inputs(values + 1, {"val": [12], "test": [30]}, 2, season=1, train=(0, 30)))
    assert "last-value" in one["seasonal_naive"]


def test_window_regression_baselines_leave_burn_in_out_and_fit_a_linear_map() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = {split: torch.randn(n, 6, 1, generator=generator) for split, n in (("train", 200), ("val", 40), ("test", 30))}
    # target at step t: 2 x_t - x_{t-1} + 0.5 (exactly linear in the window), burn-in steps poisoned with 1e6
    targets = {}
    for split, x in inputs.items():
        y = 2 * x - torch.roll(x, 1, dims=1) + 0.5
        y[:, :2] = 1e6
        targets[split] = y
    data = WindowRegressionInputs(inputs, targets, burn_in_steps=2, horizon=False)
    outcomes = regression_baselines(data)
    assert set(outcomes) == {"train_mean", "linear"}
    assert outcomes["linear"]["test/mse"] < 1e-9  # the linear map is exact; burn-in steps (1e6) are not scored
    scored = {split: y[:, 2:].numpy().ravel() for split, y in targets.items()}
    mean = scored["train"].mean()
    assert outcomes["train_mean"]["test/mse"] == pytest.approx(((scored["test"] - mean) ** 2).mean(), rel=1e-5)
    assert outcomes["train_mean"]["val/mae"] == pytest.approx(np.abs(scored["val"] - mean).mean(), rel=1e-5)


def test_window_forecast_baselines_last_value_and_drift() -> None:
    inputs = {split: torch.tensor([[[1.0], [2.0], [4.0]], [[0.0], [0.0], [3.0]]]) for split in ("train", "val", "test")}
    targets = {split: torch.tensor([[[5.0], [6.0]], [[3.0], [3.0]]]) for split in inputs}
    outcomes = regression_baselines(WindowRegressionInputs(inputs, targets, burn_in_steps=0, horizon=True))
    # last value: errors (1, 2), (0, 0) -> MSE 5/4; drift: slopes 1.5 and 1.5 -> forecasts (5.5, 7), (4.5, 6) -> errors .5, 1, 1.5, 3
    assert outcomes["last_value"]["test/mse"] == pytest.approx(5 / 4)
    assert outcomes["drift"]["test/mae"] == pytest.approx((0.5 + 1 + 1.5 + 3) / 4)


def test_nearest_neighbour_and_majority_against_a_loop() -> None:
    generator = torch.Generator().manual_seed(1)
    cases = {split: [torch.randn(9, 2, generator=generator) for _ in range(n)] for split, n in (("train", 15), ("val", 6), ("test", 11))}
    labels = {
        "train": torch.tensor([0, 1, 2, 2, 2, 1, 0, 2, 1, 2, 0, 2, 1, 1, 2]),
        "val": torch.tensor([2, 0, 1, 2, 2, 0]),
        "test": torch.randint(0, 3, (11,), generator=generator),
    }
    outcomes = case_baselines(CaseClassificationInputs(cases, labels, 3))
    for split in ("val", "test"):
        predicted = [int(labels["train"][min(range(15), key=lambda j: float(((case - cases["train"][j]) ** 2).sum()))]) for case in cases[split]]
        assert outcomes["1nn_euclidean"][f"{split}/acc"] == pytest.approx(np.mean(np.array(predicted) == labels[split].numpy()))
        assert outcomes["majority_class"][f"{split}/acc"] == pytest.approx(float((labels[split] == 2).float().mean()))
    assert "1nn_dtw" not in outcomes


def test_dtw_against_the_textbook_recursion_and_unequal_lengths() -> None:
    generator = torch.Generator().manual_seed(2)
    queries = [torch.randn(length, 2, generator=generator) for length in (4, 7)]
    references = [torch.randn(length, 2, generator=generator) for length in (5, 3, 6)]

    def dtw(a: torch.Tensor, b: torch.Tensor) -> float:
        table = np.full((len(a) + 1, len(b) + 1), np.inf)
        table[0, 0] = 0
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i, j] = float(((a[i - 1] - b[j - 1]) ** 2).sum()) + min(table[i - 1, j], table[i, j - 1], table[i - 1, j - 1])
        return table[-1, -1]

    distances = dtw_distances(queries, references)
    for q, a in enumerate(queries):
        for r, b in enumerate(references):
            assert float(distances[q, r]) == pytest.approx(dtw(a, b))
    cases = {"train": references, "val": queries, "test": queries}
    labels = {"train": torch.tensor([0, 1, 1]), "val": torch.tensor([0, 1]), "test": torch.tensor([1, 1])}
    outcomes = case_baselines(CaseClassificationInputs(cases, labels, 2), dtw=True)
    assert "different lengths" in outcomes["1nn_euclidean"] and "dtw=true" in outcomes["1nn_euclidean"]
    nearest = [int(min(range(3), key=lambda r: dtw(a, references[r]))) for a in queries]
    assert outcomes["1nn_dtw"]["test/acc"] == pytest.approx(np.mean(labels["train"][nearest].numpy() == 1))


def text_inputs() -> TextClassificationInputs:
    good, bad = ["a fine warm film", "warm and fine", "truly fine acting", "fine fine work"], ["a dull cold film", "cold and dull", "dull acting", "so dull"]
    texts = {"train": good + bad, "val": ["fine warm", "dull cold"], "test": ["warm fine story", "cold dull story", "dull"]}
    labels = {"train": torch.tensor([1] * 4 + [0] * 4), "val": torch.tensor([1, 0]), "test": torch.tensor([1, 0, 0])}
    return TextClassificationInputs(texts, labels, 2, str.split)


def test_tfidf_baseline_against_scikit_learn_directly() -> None:
    sklearn = pytest.importorskip("sklearn")
    del sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = text_inputs()
    outcomes = text_baselines(data, [1.0])
    vectorizer = TfidfVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
    classifier = LogisticRegression(C=1.0, solver="liblinear").fit(vectorizer.fit_transform(data.texts["train"]), data.labels["train"].numpy())
    predicted = classifier.predict(vectorizer.transform(data.texts["test"]))
    assert outcomes["tfidf_logreg"]["test/acc"] == pytest.approx(np.mean(predicted == data.labels["test"].numpy()))
    assert outcomes["majority_class"]["test/acc"] == pytest.approx(2 / 3)  # a tie in train: the lowest id, 0


def test_tfidf_baseline_with_three_classes_is_one_versus_the_rest() -> None:
    # scikit-learn's liblinear refuses three classes or more (it did one versus the rest itself before 1.8)
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    words = {0: "dull cold flat", 1: "fine warm bright", 2: "odd strange weird"}
    train = [f"{words[label].split()[k]} {words[label].split()[(k + 1) % 3]} film" for label in words for k in range(3)]
    data = TextClassificationInputs(
        {"train": train, "val": ["cold dull", "warm fine", "weird odd"], "test": ["flat film", "bright warm", "strange", "dull odd odd"]},
        {"train": torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2]), "val": torch.tensor([0, 1, 2]), "test": torch.tensor([0, 1, 2, 2])},
        3,
        str.split,
    )
    outcomes = text_baselines(data, [1.0])
    # by hand: one binary classifier per class, each test text going to the class whose classifier scores it highest
    vectorizer = TfidfVectorizer(tokenizer=str.split, lowercase=False, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
    train_features, test_features = vectorizer.fit_transform(data.texts["train"]), vectorizer.transform(data.texts["test"])
    scores = [
        LogisticRegression(C=1.0, solver="liblinear").fit(train_features, (data.labels["train"] == label).numpy()).decision_function(test_features)
        for label in range(3)
    ]
    predicted = np.argmax(np.stack(scores, axis=1), axis=1)
    assert outcomes["tfidf_logreg"]["test/acc"] == pytest.approx(np.mean(predicted == data.labels["test"].numpy()))
    assert outcomes["tfidf_logreg"]["val/acc"] == 1.0  # the three classes' own words


def test_without_scikit_learn_the_tfidf_baseline_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    outcomes = text_baselines(text_inputs(), [1.0])
    assert outcomes["tfidf_logreg"] == NEEDS_SKLEARN and "seqexp[baselines]" in NEEDS_SKLEARN
    assert "val/acc" in outcomes["majority_class"]


def test_rolling_zscore_against_a_loop_and_the_window_chosen_on_val() -> None:
    generator = torch.Generator().manual_seed(3)
    values = torch.randn(300, 2, generator=generator, dtype=torch.float64)
    scores = rolling_zscore(values, 200, 300, 25)
    for point in (200, 231, 299):
        history = values[point - 25 : point]
        expected = ((values[point] - history.mean(0)).abs() / (history.std(0, unbiased=False) + 1e-6)).max()
        assert float(scores[point - 200]) == pytest.approx(float(expected), rel=1e-9)
    labels = torch.zeros(300, dtype=torch.long)
    values[150, 1] += 12.0  # a spike in val and one in test
    values[260, 0] -= 12.0
    labels[150], labels[260] = 1, 1
    bounds = {"train": (0, 100), "val": (100, 200), "test": (200, 300)}
    outcome = anomaly_baselines(AnomalyInputs(values, labels, bounds), AnomalyScoring(vus_window=0), [5, 50])["rolling_zscore"]
    assert outcome["window"] in (5.0, 50.0)
    assert outcome["test/auprc"] == pytest.approx(1.0) and outcome["test/ucr_hit"] == 1.0
    # best_f1 on val, whose one anomaly is the spike: the threshold is its score; the test spike is flagged if it scores as high
    window = int(outcome["window"])
    val_spike, test_spike = rolling_zscore(values, 150, 151, window), rolling_zscore(values, 260, 261, window)
    assert outcome["test/f1"] == (1.0 if float(test_spike) >= float(val_spike) else 0.0)
    assert outcome["val/f1"] == 1.0


def test_rolling_zscore_a_chunk_at_a_time_gives_the_sums_of_one_pass_to_the_last_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The running sums are made a chunk of rows at a time (7 here, so that windows reach back over several
    chunks); the scores are those of one cumulative sum over every row, written out here, bit for bit."""

    def one_pass(values: torch.Tensor, start: int, end: int, window: int) -> torch.Tensor:
        offset = max(start - window, 0)
        x = values[offset:end].double()
        sums = torch.cat([torch.zeros(1, x.shape[1], dtype=x.dtype), torch.cumsum(x, 0)])
        squares = torch.cat([torch.zeros(1, x.shape[1], dtype=x.dtype), torch.cumsum(x * x, 0)])
        points = torch.arange(start - offset, end - offset)
        first = (points - window).clamp(min=0)
        count = (points - first).clamp(min=1).unsqueeze(1).to(x.dtype)
        mean = (sums[points] - sums[first]) / count
        variance = ((squares[points] - squares[first]) / count - mean * mean).clamp(min=0)
        return ((x[points] - mean).abs() / (variance.sqrt() + 1e-6)).amax(1)

    monkeypatch.setattr(anomaly_module, "CHUNK", 7)
    generator = torch.Generator().manual_seed(5)
    values = (100.0 + 3.0 * torch.randn(120, 2, generator=generator)).float()  # a level far from 0: rounding shows
    for start, end in ((0, 120), (3, 50), (60, 61), (40, 120)):
        for window in (1, 3, 7, 8, 30):
            assert torch.equal(rolling_zscore(values, start, end, window), one_pass(values, start, end, window)), (start, end, window)


def test_the_linear_baseline_reads_no_input_after_a_step() -> None:
    """Per-step targets: the linear map of step t sees inputs up to t, as a one-way RNN does, so the next input is out of reach."""
    generator = torch.Generator().manual_seed(4)
    inputs = {split: torch.randn(400, 5, 1, generator=generator) for split in ("train", "val", "test")}
    targets = {split: torch.roll(x, -1, dims=1) for split, x in inputs.items()}  # target at t = input at t + 1
    outcomes = regression_baselines(WindowRegressionInputs(inputs, targets, burn_in_steps=0, horizon=False))
    assert outcomes["linear"]["test/mse"] > 0.8  # unpredictable: about the inputs' variance, 1
