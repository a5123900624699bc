"""AnomalyTask end to end: every preset on data=anomaly, a short real run that beats a random scorer,
the threshold saved in the checkpoint, the TensorBoard figure, and per-point score aggregation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics, run_cli
from seqexp.data.anomaly import SyntheticAnomalyDataModule
from seqexp.tasks.anomaly import AnomalyTask
from seqexp.train import train

PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn"]
TINY = ["data.lengths.train=300", "data.lengths.val=300", "data.lengths.test=300", "data.window_length=16", "model.hidden_size=16"]


@pytest.mark.parametrize(("preset", "mode"), [(preset, "forecast") for preset in PRESETS] + [("lstm", "reconstruction"), ("bidirectional", "reconstruction")])
def test_every_preset_runs_on_anomaly(preset: str, mode: str, tmp_path: Path) -> None:
    cfg = compose_train("data=anomaly", f"model={preset}", f"task.mode={mode}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}", *TINY)
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert math.isfinite(metrics["train/loss"]) and math.isfinite(metrics["test/loss"])
    assert math.isfinite(metrics["test/threshold"]) and 0 <= metrics["test/f1"] <= 1


@pytest.mark.parametrize("source", ["anomaly_real", "anomaly_csv"])
def test_real_and_csv_data_run(source: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "series.csv"
    csv_file.write_text("time,a,b,label\n" + "".join(f"{i},{math.sin(i / 5):.4f},{math.cos(i / 7):.4f},{int(300 <= i < 310)}\n" for i in range(400)))
    data = (
        ["data=anomaly_real"]
        if source == "anomaly_real"
        else ["data=anomaly_csv", f"data.path={csv_file}", "data.timestamp_column=time", "data.label_column=label"]
    )
    cfg = compose_train(*data, "debug=fast_dev_run", "model.hidden_size=8", f"paths.output_dir={tmp_path}")
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert math.isfinite(metrics["test/loss"]) and math.isfinite(metrics["test/threshold"])


def spec(features: int = 1) -> dict:
    return {"input_kind": "features", "input_size": features, "target_kind": "anomaly", "output_size": features}


@pytest.mark.parametrize(("key", "value"), [("mode", "transformer"), ("horizon", 0), ("threshold", {"rule": "top1"})])
def test_bad_task_settings_name_the_key(key: str, value: object) -> None:
    model = {"cell": "lstm", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
    with pytest.raises(ValueError, match=rf"task\.{key}"):
        AnomalyTask(spec(), model, {"name": "adam", "lr": 0.01}, {"name": "none"}, **{key: value})


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few epochs of `python -m seqexp.train data=anomaly model=gru`, on a shorter series."""
    run_dir = tmp_path_factory.mktemp("anomaly") / "run"
    run_cli(
        "train",
        "data=anomaly",
        "model=gru",
        "model.hidden_size=32",
        "trainer.max_epochs=2",
        "data.lengths.train=1000",
        "data.lengths.val=600",
        "data.lengths.test=600",
        run_dir=run_dir,
    )
    return run_dir


@pytest.mark.slow
def test_short_run_beats_a_random_scorer(short_run: Path) -> None:
    metrics = read_metrics(short_run)["metrics"]
    # A random score's expected AUPRC is the share of anomalous points in the test split.
    data = SyntheticAnomalyDataModule(lengths={"train": 1000, "val": 600, "test": 600}, seed=42)
    random_auprc = float(data.split_series("test")[1].float().mean())
    assert 0.05 < random_auprc < 0.3
    assert metrics["test/auprc"] > 2 * random_auprc, metrics
    assert metrics["test/auroc"] > 0.6 and metrics["test/event_recall"] > 0.5
    assert metrics["test/pa_f1"] >= metrics["test/f1"]  # point adjustment only adds hits


@pytest.mark.slow
def test_threshold_is_saved_in_the_checkpoint_and_metrics_hold_under_ddp(short_run: Path) -> None:
    result = read_metrics(short_run)
    state = torch.load(result["best_model_path"], map_location="cpu", weights_only=True)["state_dict"]
    assert float(state["threshold"]) == pytest.approx(result["metrics"]["test/threshold"])
    # Two DDP processes each score half of the windows; the gathered per-point metrics must not change.
    eval_dir = short_run.parent / "eval"
    run_cli("eval", f"ckpt_path={result['best_model_path']}", "trainer=ddp_cpu", f"hydra.run.dir={eval_dir}")
    evaluated = read_metrics(eval_dir)["metrics"]
    # Batches differ between the runs, so scores may differ in the last float bits: near-ties can swap.
    for name in ("test/threshold", "test/auprc", "test/auroc", "test/f1", "test/pa_f1", "test/event_recall"):
        assert evaluated[name] == pytest.approx(result["metrics"][name], rel=1e-5, abs=2e-3), name


@pytest.mark.slow
def test_tensorboard_gets_the_anomaly_figure(short_run: Path) -> None:
    events = EventAccumulator(str(short_run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"val/anomaly_scores", "test/anomaly_scores"} <= set(events.Tags()["images"])
    assert "test/auprc" in events.Tags()["scalars"]


@pytest.mark.parametrize("mode", ["forecast", "reconstruction"])
def test_instance_norm_scores_a_window_the_same_at_any_level_and_scale(mode: str) -> None:
    """What task.instance_norm is for: a drifted window (shifted and stretched) scores as the original
    one would, so a threshold chosen before the drift still fits; without it the scores move."""
    spec = {"input_kind": "features", "input_size": 2, "target_kind": "anomaly", "output_size": 2}
    model = {"cell": "lstm", "hidden_size": 8}
    optim = {"_target_": "torch.optim.Adam", "lr": 0.001}
    windows = torch.randn(3, 16, 2, generator=torch.Generator().manual_seed(0))
    drifted = {"inputs": windows * 4.0 + torch.tensor([50.0, -20.0])}
    for instance_norm in (True, False):
        torch.manual_seed(0)
        task = AnomalyTask(spec, model, optim, {}, mode=mode, horizon=4, instance_norm=instance_norm).eval()
        with torch.no_grad():
            original, moved = task({"inputs": windows}), task(drifted)
        assert torch.isnan(original).equal(torch.isnan(moved))
        scored = ~torch.isnan(original)
        if instance_norm:
            torch.testing.assert_close(moved[scored], original[scored], rtol=1e-4, atol=1e-4)
        else:
            assert (moved[scored] - original[scored]).abs().max() > 1.0
