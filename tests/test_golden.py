"""Golden tests: pin each data option's first batches and a short run's metrics, so that moving code
(the data layer's refactor, issue 14) cannot change numbers unnoticed.

For every option of ``conf/data/`` (default model ``lstm``, ``seed=42``, CPU, ``trainer.deterministic=true``):

- ``test_first_batches_match_golden``: the DataModule from ``seqexp.train.build(cfg)``, set up as Lightning
  does (``prepare_data``, ``setup("fit")``, later ``setup("test")``); the first batch of the train, val and
  test loaders. Per tensor key: shape, dtype and values: every value when the tensor has at most
  ``FULL_VALUES_LIMIT`` elements, else the sum, the sum of absolute values and the first 50 flattened values.
  Floats compare with rtol=1e-5, atol=1e-6; integers and booleans exactly.
- ``test_short_run_metrics_match_golden``: ``seqexp.train.train(cfg)`` for one short epoch (3 train, 2 val,
  2 test batches, ``model.hidden_size=16``), logger, figures and progress bar as composed; every metric of
  ``metrics.json`` (test, val, train, learning rate) with rtol=1e-4, plus epochs and global step exactly.

The expected values live in ``tests/golden/<data option>.json``, which also records the overrides each
section was made with (fixture paths as ``{fixtures}``).

Regenerating: when a change is *meant* to change these numbers, rewrite the files with

    SEQEXP_REGENERATE_GOLDEN=1 OMP_NUM_THREADS=1 python -m pytest -q tests/test_golden.py

(the tests then write instead of compare), check the diff, and explain in CHANGELOG.md why the numbers
changed. A refactor that only moves code must pass without regenerating. A new data option fails here
until it has an entry in ``DATA`` and a golden file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import torch

import seqexp.conf
from helpers import compose_train, read_metrics
from seqexp.builder import build
from seqexp.train import train

GOLDEN_DIR = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent / "fixtures"
REGENERATE = os.environ.get("SEQEXP_REGENERATE_GOLDEN") == "1"

DATA_OPTIONS = sorted(path.stem for path in (Path(seqexp.conf.__file__).parent / "data").glob("*.yaml"))
COMMON = ["model=lstm", "seed=42", "trainer.accelerator=cpu", "trainer.deterministic=true"]
# Per data option: what keeps it small, and the user files it needs ({fixtures} = tests/fixtures).
DATA: dict[str, list[str]] = {
    "sine": ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64"],
    "text": [],  # the built-in Rotten Tomatoes corpus
    "text_csv": ["data.path={fixtures}/text/reviews.csv", "data.text_column=review", "data.label_column=sentiment"],
    "anomaly": ["data.lengths.train=300", "data.lengths.val=300", "data.lengths.test=300"],
    "anomaly_real": [],  # the built-in ucr_internal_bleeding16
    # 12 hourly points with gaps and a windows file: windows of 2 points (so horizon 1) fit the 2-point val split.
    "anomaly_csv": [
        "data.path={fixtures}/anomaly/series_with_gaps.csv",
        "data.timestamp_column=time",
        "data.windows_path={fixtures}/anomaly/windows.csv",
        "data.window_length=2",
        "task.horizon=1",
    ],
    "series": [],  # the built-in seattle_temps
    "ucr": [],  # the built-in BasicMotions
}
SHORT_RUN = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "model.hidden_size=16"]
# The archive's one labelled anomaly lies deep in the test split: score all of it, not 2 batches.
SHORT_RUN_EXTRA: dict[str, list[str]] = {"anomaly_real": ["trainer.limit_test_batches=null"]}

FULL_VALUES_LIMIT = 2000  # tensors with at most this many elements are stored whole
HEAD = 50  # leading flattened values stored for larger tensors
FLOAT_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
METRIC_RTOL = 1e-4


def data_overrides(option: str) -> list[str]:
    if option not in DATA:
        pytest.fail(
            f"data={option} is new: add the overrides it needs (user files from tests/fixtures, small sizes) "
            f"to DATA in {Path(__file__).name}, then write its golden file with SEQEXP_REGENERATE_GOLDEN=1"
        )
    return [f"data={option}", *COMMON, *DATA[option]]


def resolve(overrides: list[str]) -> list[str]:
    return [item.replace("{fixtures}", str(FIXTURES)) for item in overrides]


def golden_path(option: str) -> Path:
    return GOLDEN_DIR / f"{option}.json"


def load_golden(option: str) -> dict[str, Any]:
    path = golden_path(option)
    if not path.is_file():
        pytest.fail(f"{path} is missing: write it with SEQEXP_REGENERATE_GOLDEN=1 (and say why in CHANGELOG.md)")
    return json.loads(path.read_text())


def write_golden_section(option: str, section: str, content: dict[str, Any]) -> None:
    """Replace one section of the option's golden file, keeping the other (each test owns one section)."""
    path = golden_path(option)
    golden = json.loads(path.read_text()) if path.is_file() else {}
    golden.update({"data_option": option, section: content})
    GOLDEN_DIR.mkdir(exist_ok=True)
    path.write_text(render(dict(sorted(golden.items()))) + "\n")


def render(value: Any, indent: int = 0) -> str:
    """JSON with nested objects indented and lists of numbers kept on one line (readable diffs, small files)."""
    if isinstance(value, dict) and value:
        pad = " " * (indent + 2)
        items = [f"{pad}{json.dumps(key)}: {render(item, indent + 2)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return json.dumps(value)


# --- first batches ----------------------------------------------------------------------------------


def plain_numbers(tensor: torch.Tensor) -> list:
    """Flattened values as JSON numbers; float32 values as their shortest text that reads back to the same float32."""
    flat = tensor.detach().flatten().cpu()
    if flat.dtype in (torch.float16, torch.bfloat16, torch.float32):
        return [float(str(value)) for value in flat.float().numpy()]
    return flat.tolist()


def fingerprint(tensor: torch.Tensor) -> dict[str, Any]:
    entry: dict[str, Any] = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")}
    if tensor.numel() <= FULL_VALUES_LIMIT:
        entry["values"] = plain_numbers(tensor)
        return entry
    wide = tensor.detach().cpu().double() if tensor.is_floating_point() else tensor.detach().cpu().long()
    entry["sum"] = wide.sum().item()
    entry["abs_sum"] = wide.abs().sum().item()
    entry["first_50"] = plain_numbers(tensor.flatten()[:HEAD])
    return entry


def batch_fingerprint(batch: Any) -> dict[str, Any]:
    """``{key: fingerprint}`` of a batch: a dict of tensors (or a tuple/list, keyed by position)."""
    items = batch.items() if isinstance(batch, dict) else enumerate(batch)
    result = {}
    for key, value in items:
        assert isinstance(value, torch.Tensor), f"batch[{key!r}] is a {type(value).__name__}, not a tensor"
        result[str(key)] = fingerprint(value)
    return result


def first_batches(cfg) -> dict[str, dict[str, Any]]:
    """The first batch of each split, with the DataModule set up in Lightning's order (fit, then test)."""
    datamodule, _task, _trainer = build(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches = {"train": next(iter(datamodule.train_dataloader())), "val": next(iter(datamodule.val_dataloader()))}
    datamodule.setup("test")
    batches["test"] = next(iter(datamodule.test_dataloader()))
    return {split: batch_fingerprint(batch) for split, batch in batches.items()}


def assert_tensor_matches(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    assert actual["dtype"] == expected["dtype"], f"{where}: dtype {actual['dtype']}, golden {expected['dtype']}"
    assert actual["shape"] == expected["shape"], f"{where}: shape {actual['shape']}, golden {expected['shape']}"
    fields = set(actual) - {"shape", "dtype"}
    assert fields == set(expected) - {"shape", "dtype"}, f"{where}: stored fields differ"
    for field in sorted(fields):
        if actual["dtype"].startswith(("float", "bfloat")):
            torch.testing.assert_close(
                torch.tensor(actual[field], dtype=torch.float64),
                torch.tensor(expected[field], dtype=torch.float64),
                **FLOAT_TOLERANCE,
                equal_nan=True,
                msg=lambda message, field=field: f"{where} {field}: {message}",
            )
        else:
            assert actual[field] == expected[field], f"{where} {field}: differs from the golden values"


@pytest.mark.parametrize("option", DATA_OPTIONS)
def test_first_batches_match_golden(option: str, tmp_path: Path) -> None:
    overrides = data_overrides(option)
    batches = first_batches(compose_train(*resolve(overrides), f"paths.output_dir={tmp_path}"))
    if REGENERATE:
        write_golden_section(option, "first_batches", {"overrides": overrides, **batches})
        return
    golden = load_golden(option)["first_batches"]
    assert golden["overrides"] == overrides, "the test's overrides changed: regenerate the golden file"
    for split in ("train", "val", "test"):
        assert batches[split].keys() == golden[split].keys(), f"{split} batch keys: {sorted(batches[split])}"
        for key in batches[split]:
            assert_tensor_matches(batches[split][key], golden[split][key], f"data={option} {split} batch[{key!r}]")


# --- a short run ------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", DATA_OPTIONS)
def test_short_run_metrics_match_golden(option: str, tmp_path: Path) -> None:
    overrides = [*data_overrides(option), *SHORT_RUN, *SHORT_RUN_EXTRA.get(option, [])]
    train(compose_train(*resolve(overrides), f"paths.output_dir={tmp_path}"))
    summary = read_metrics(tmp_path)
    assert summary["status"] == "completed"
    result = {"overrides": overrides, "epochs": summary["epochs"], "global_step": summary["global_step"], "metrics": summary["metrics"]}
    if REGENERATE:
        write_golden_section(option, "short_run", result)
        return
    golden = load_golden(option)["short_run"]
    assert golden["overrides"] == overrides, "the test's overrides changed: regenerate the golden file"
    assert (result["epochs"], result["global_step"]) == (golden["epochs"], golden["global_step"])
    assert sorted(result["metrics"]) == sorted(golden["metrics"]), "metric names differ from the golden file"
    for name, expected in golden["metrics"].items():
        actual = result["metrics"][name]
        if expected is None or actual is None:  # metrics.json writes undefined values (nan) as null
            assert actual == expected, f"data={option} {name}: {actual}, golden {expected}"
        else:
            assert math.isclose(actual, expected, rel_tol=METRIC_RTOL), f"data={option} {name}: {actual}, golden {expected}"


def test_every_data_option_has_a_golden_file() -> None:
    assert sorted(DATA) == DATA_OPTIONS, "DATA must list exactly the options of conf/data/"
    assert sorted(path.stem for path in GOLDEN_DIR.glob("*.json")) == DATA_OPTIONS, "one golden file per data option"
