"""Every option of the config groups composes and runs, as the Lightning+Hydra template's tests run
``experiment=glob(*)``: each YAML of ``conf/<group>/`` for the groups below, found when the tests are
collected (a new option is tested without touching this file), runs ``debug=fast_dev_run`` in-process and
must write ``metrics.json`` with status ``completed`` and finite test metrics.

Options other than ``data`` run on small sine data; ``experiment`` options on their own data, kept small
the same way. Data options that read a user's file get one from tests/fixtures (``USER_FILES``); a new data
option that fails without one is reported as needing an entry there.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import seqexp.conf
from helpers import compose_train, read_metrics
from seqexp.train import train

CONF = Path(seqexp.conf.__file__).parent
GROUPS = ("experiment", "optim", "scheduler", "model", "data")
FIXTURES = Path(__file__).parent / "fixtures"

# Data options that need a user's file, and the fixture they read.
USER_FILES: dict[str, list[str]] = {
    "text_csv": [f"data.path={FIXTURES / 'text' / 'reviews.csv'}", "data.text_column=review", "data.label_column=sentiment"],
    # 12 hourly points with gaps and a windows file: windows of 2 points (so horizon 1) fit the 2-point val split.
    "anomaly_csv": [
        f"data.path={FIXTURES / 'anomaly' / 'series_with_gaps.csv'}",
        "data.timestamp_column=time",
        f"data.windows_path={FIXTURES / 'anomaly' / 'windows.csv'}",
        "data.window_length=2",
        "task.horizon=1",
    ],
}
# Data options whose defaults generate more than one fast_dev_run batch needs.
SMALL: dict[str, list[str]] = {
    "sine": ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64"],
    "anomaly": ["data.lengths.train=300", "data.lengths.val=300", "data.lengths.test=300"],
}
# Anomaly scores are undefined (metrics.json: null) when the one test batch of fast_dev_run holds no
# labelled anomaly, or only anomalies: these need both classes, or an anomaly event, among the points.
NEED_BOTH_CLASSES = {"test/auroc", "test/auprc", "test/event_recall", "test/ucr_hit", "test/vus_pr", "test/vus_roc"}
# Likewise a class's precision (no case predicted as it) and recall (no case of it) in classification.
PER_CLASS = ("test/precision/", "test/recall/")


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


CASES = [pytest.param(group, option, id=f"{group}={option}") for group in GROUPS for option in options(group)]


def data_overrides(data: str) -> list[str]:
    return [*USER_FILES.get(data, []), *SMALL.get(data, [])]


def overrides_for(group: str, option: str) -> list[str]:
    """``group=option`` with the data it runs on made small, and given its user file where it needs one."""
    if group == "data":
        data = option
    elif group == "experiment":  # an experiment picks its own data: find out which
        data = compose_train(f"experiment={option}").hydra.runtime.choices["data"]
    else:
        data = "sine"
    prefix = [] if group in ("data", "experiment") else [f"data={data}"]
    return [*prefix, f"{group}={option}", *data_overrides(data)]


def test_every_group_has_options() -> None:
    assert all(options(group) for group in GROUPS), {group: options(group) for group in GROUPS}


@pytest.mark.parametrize(("group", "option"), CASES)
def test_option_runs_fast_dev_run(group: str, option: str, tmp_path: Path) -> None:
    overrides = overrides_for(group, option)
    cfg = compose_train(*overrides, "debug=fast_dev_run", f"paths.output_dir={tmp_path}")
    data = cfg.hydra.runtime.choices["data"]
    try:
        train(cfg)
    except Exception as error:
        if data not in USER_FILES:
            raise AssertionError(
                f"{group}={option} (data={data}) failed: {error!r}. If data={data} needs a user's file, "
                "add it (from tests/fixtures) to USER_FILES in tests/test_config_options.py"
            ) from error
        raise
    summary = read_metrics(tmp_path)
    assert summary["status"] == "completed", summary
    tests = {name: value for name, value in summary["metrics"].items() if name.startswith("test/")}
    assert tests, f"{group}={option}: no test metrics in metrics.json: {summary['metrics']}"
    undefined = {name for name, value in tests.items() if value is None and not name.startswith(PER_CLASS)}
    assert undefined <= NEED_BOTH_CLASSES, f"{group}={option}: undefined test metrics {sorted(undefined)}"
    assert "test/loss" not in undefined
    bad = {name: value for name, value in tests.items() if value is not None and not math.isfinite(value)}
    assert not bad, f"{group}={option}: test metrics not finite: {bad}"
