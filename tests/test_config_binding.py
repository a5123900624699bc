"""One validation pass (seqexp.checks): every `_target_` node bound to its constructor's signature, the types
and ranges declared there, and each class's cross-field rule, all before anything is built or read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest

from helpers import compose_train, run_cli
from seqexp.checks import ConfigError, Range, bind_problems, check_arguments, value_problems
from seqexp.config import validate_config
from seqexp.data.sine import SineDataModule
from seqexp.train import train


def refused(*overrides: str) -> str:
    with pytest.raises(ConfigError) as error:
        validate_config(compose_train(*overrides))
    return str(error.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # unknown key, bound to the constructor's signature (ours and Lightning's)
        (["data=text", "+task.poling=max"], "task.poling: not a key of ClassificationTask; the keys are ['embedding', 'pooling'"),
        (["+data.windw_length=8"], "data.windw_length: not a key of SineDataModule; the keys are ['target', 'window_length'"),
        (["+trainer.max_epoch=3"], "trainer.max_epoch: not a key of Trainer; the keys are ['accelerator'"),
        (["+callbacks.early_stopping.patiense=3"], "callbacks.early_stopping.patiense: not a key of EarlyStopping"),
        # wrong type and out of range, as declared on the signature
        (
            ["data=text", "task.pooling=sum"],
            "task.pooling='sum': must be one of ['last', 'mean', 'max', 'attention'] or a list of items from ['last', 'mean', 'max', 'attention']",
        ),
        (["data=text", "task.dropout=abc"], "task.dropout='abc': must be a number in [0, 1)"),
        (["data=text", "task.label_smoothing=1.0"], "task.label_smoothing=1.0: must be a number in [0, 1)"),
        (["data=anomaly", "task.mode=predict"], "task.mode='predict': must be one of ['forecast', 'reconstruction']"),
        (["data=anomaly", "task.horizon=0"], "task.horizon=0: must be an integer >= 1"),
        (["data=anomaly", "data.window_length=1"], "data.window_length=1: must be an integer >= 2"),  # a base class's declaration
        (["data.window_length=0"], "data.window_length=0: must be an integer >= 1"),
        (["data.shuffle=maybe"], "data.shuffle='maybe': must be true or false"),
        (["seed=abc"], "seed='abc': must be an integer in [0, 4294967295]"),
        # another library's class: the plain types its constructor declares (torch, Lightning)
        (["optim=sgd", "optim.momentum=abc"], "optim.momentum='abc': must be a number"),
        (["optim=sgd", "optim.nesterov=maybe"], "optim.nesterov='maybe': must be true or false"),
        (["scheduler=cosine", "scheduler.T_max=abc"], "scheduler.T_max='abc': must be an integer"),
        (["scheduler=step", "scheduler.gamma=abc"], "scheduler.gamma='abc': must be a number"),
        (["callbacks.early_stopping.patience=abc"], "callbacks.early_stopping.patience='abc': must be an integer"),
        (["monitor.mode=maxx"], "monitor.mode='maxx': must be one of ['min', 'max']"),
        # cross-field: one classmethod per class
        (["data=anomaly", "task.horizon=40"], "task.horizon=40: must be smaller than data.window_length=32"),
        (["data=text", "task.pooling=[max,max]"], "task.pooling=['max', 'max']: must be one of"),
        (["data.stateful=true"], "data.stateful=true with data.shuffle=true: stateful data serves windows in order"),
    ],
)
def test_a_bad_key_is_named_as_group_key(overrides: list[str], message: str) -> None:
    assert message in refused(*overrides)


def test_one_problem_is_one_line() -> None:
    assert refused("data=anomaly", "task.horizon=40") == "invalid config: task.horizon=40: must be smaller than data.window_length=32"


def test_every_option_of_every_group_binds() -> None:
    conf = Path(__file__).parents[1] / "src" / "seqexp" / "conf"
    for group in ("data", "model", "optim", "scheduler", "trainer", "logger", "experiment", "debug"):
        for option in sorted((conf / group).glob("*.yaml")):
            validate_config(compose_train(f"{group}={option.stem}"))


def test_missing_required_key_is_named() -> None:
    class Needs:
        def __init__(self, path: str, rows: int = 1) -> None: ...

    assert bind_problems(Needs, "data", {"_target_": "x.Needs", "rows": 2}) == ["data.path: required by Needs, not set"]
    assert bind_problems(Needs, "data", {"path": "a.csv", "row": 2}) == ["data.row: not a key of Needs; the keys are ['path', 'rows']"]


def test_declarations_read_as_the_messages_say() -> None:
    class Knobs:
        def __init__(
            self,
            size: Annotated[int, Range(ge=1)] = 1,
            share: Annotated[float, Range(gt=0, le=1)] = 0.5,
            kind: Literal["a", "b"] | None = None,
            std: Annotated[float, Range(ge=0, finite=True)] = 0.0,
        ) -> None: ...

    Knobs.__module__ = "seqexp.test"  # declarations are read from seqexp's own classes
    assert value_problems(Knobs, "x", {"size": True, "share": 0, "kind": "c", "std": float("inf")}) == [
        "x.size=True: must be an integer >= 1",
        "x.share=0: must be a number in (0, 1]",
        "x.kind='c': must be null or one of ['a', 'b']",
        "x.std=inf: must be a finite number >= 0",
    ]
    assert value_problems(Knobs, "x", {"size": 3, "share": 1, "kind": None, "std": 2}) == []


def test_constructors_from_plain_python_check_the_same_declarations() -> None:
    with pytest.raises(ConfigError, match=r"^data\.window_length=0: must be an integer >= 1$"):
        SineDataModule(window_length=0)
    with pytest.raises(ConfigError, match=r"^task\.horizon=0: must be an integer >= 1$"):
        check_arguments(__import__("seqexp.tasks.anomaly", fromlist=["AnomalyTask"]).AnomalyTask, "task", horizon=0)


def test_nothing_is_built_before_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def built(*args, **kwargs):
        raise AssertionError("instantiated before the config was checked")

    monkeypatch.setattr("seqexp.builder.instantiate", built)
    with pytest.raises(ConfigError, match=r"task\.pooling='sum'"):
        train(compose_train("data=text", "task.pooling=sum", f"paths.output_dir={tmp_path}"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task.pooling=sum", "data=text"], "Error: invalid config: task.pooling='sum': must be one of"),
        (["data=anomaly", "task.horizon=40"], "Error: invalid config: task.horizon=40: must be smaller than data.window_length=32"),
        (["callbacks.early_stopping.patience=abc"], "Error: invalid config: callbacks.early_stopping.patience='abc': must be an integer"),
    ],
)
def test_cli_answers_one_error_line_before_any_data_is_read(overrides: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli("train", *overrides, run_dir=tmp_path / "run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert [line for line in output.splitlines() if line.startswith("Error:")] == [line for line in output.splitlines() if message in line]
    assert message in output
    assert "Traceback" not in output and "InstantiationException" not in output
    assert "data:" not in output and "text data from" not in output  # the data modules' first log lines on reading
