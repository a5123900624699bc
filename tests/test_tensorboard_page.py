"""``tensorboard --logdir outputs`` after a default run, read in a real browser (headless Chromium from Debian's
packages): the page a user opens first shows the learning curves, the baselines as runs of their own in the
model's charts, and HPARAMS the model's metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from helpers import post_json, run_cli, tensorboard_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it as root)"),
]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of TensorBoard serving ``outputs/`` of a folder where the README's airline command ran (3 epochs)."""
    cwd = tmp_path_factory.mktemp("board")
    run_cli("train", "data=series", "data.name=airline", "data.input_length=24", "data.horizon=12", "trainer.max_epochs=3", cwd=cwd)
    with tensorboard_server("outputs", cwd=cwd) as url:
        yield url


def page(url: str) -> str:
    """The page's DOM once its scripts have run, as Chromium renders it."""
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1400", "--virtual-time-budget=10000", "--dump-dom", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def test_the_first_page_shows_the_learning_curves_and_each_baseline_as_a_run(board: str) -> None:
    dom = page(f"{board}/")
    groups = re.findall(r'class="group-title"[^>]*>\s*([^<]*?)\s*<', dom)
    assert groups[:1] == ["Pinned"] and {"test", "train", "val"} <= set(groups), groups
    assert "baseline" not in groups  # not a section of 40 one-point charts sorted before the curves
    runs = set(re.findall(r"tensorboard_baselines/(\w+)", dom))
    assert runs == {"drift", "last_value", "seasonal_naive", "train_mean"}, runs


def test_hparams_columns_are_the_models_metrics(board: str) -> None:
    # the HPARAMS table's columns, as the page asks TensorBoard for them (its table lies in a shadow DOM)
    experiment = post_json(f"{board}/data/plugin/hparams/experiment", {"experimentName": ""})
    metrics = [info["name"]["tag"] for info in experiment["metricInfos"]]
    assert {"val/mase", "test/mase", "train/loss"} <= set(metrics)
    assert not [tag for tag in metrics if tag.startswith("baseline")] and all(info["name"].get("group", "") == "" for info in experiment["metricInfos"])
    assert [hparam["name"] for hparam in experiment["hparamInfos"]][:1] == ["choice/data"]
