"""A config mistake is answered before torch and Lightning are imported (issue 24 item 2): the entry points import
them only once the config pass holds, and the pass reads the signatures of seqexp's own classes from their source
(seqexp.signatures), as Python would find them after importing."""

from __future__ import annotations

import inspect
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from helpers import compose_train, run_cli
from seqexp.checks import ConfigError, config_problems, declared_types, locate, merged_declarations, source_rule_problems
from seqexp.config import validate_config
from seqexp.predict import TEXT_DATA
from seqexp.signatures import Unread, derives_from, lookup, read_function, read_rule, read_signature

CONF = Path(__file__).parents[1] / "src" / "seqexp" / "conf"
IMPORT_TIMES = {"PYTHONPROFILEIMPORTTIME": "1"}  # python -X importtime: a stderr line for each module imported


def imported(stderr: str) -> set[str]:
    """The modules a run imported, from its ``-X importtime`` lines."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:") and "|" in line}


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden_size=-3"], "Error: invalid config: model.hidden_size=-3: must be an integer >= 1"),
        (["task.pooling=sum", "data=text"], "Error: invalid config: task.pooling='sum': must be one of ['last', 'mean', 'max', 'attention']"),
        (["+data.windw_length=8"], "Error: invalid config: data.windw_length: not a key of SineDataModule; the keys are ['target'"),
        (["model=lstm_fcn", "model.fcn.kernel_sizes=[3,0]"], "Error: invalid config: model.fcn.kernel_sizes=[3, 0]: must be a list of integers >= 1"),
        (["+model.conv.layer=2"], "Error: invalid config: model.conv.layer: not a model key; the keys are ['architecture', 'cell'"),
        # cross-field rules: each class's check_config, read from its source
        (["data=anomaly", "task.horizon=40"], "Error: invalid config: task.horizon=40: must be smaller than data.window_length=32"),
        (
            ["data=text", "task.pooling=[max,max]"],
            "Error: invalid config: task.pooling=['max', 'max']: must be one of ['last', 'mean', 'max', 'attention'], or a list",
        ),
        (["data=series", "task.quantiles=[0.9,0.5,0.1]"], "Error: invalid config: task.quantiles=[0.9, 0.5, 0.1]: must be null or a list of increasing"),
        (["data=series", "data.backtest.folds=2", "data.backtest.fold=3"], "Error: invalid config: data.backtest.fold=3: must be an integer in [0, 1]"),
        (
            ["data=anomaly_csv", "data.path=series.csv", "data.backtest.folds=2", "data.backtest.fold=3"],
            "Error: invalid config: data.backtest.fold=3: must be an integer in [0, 1]",
        ),
        (["data.stateful=true"], "Error: invalid config: data.stateful=true with data.shuffle=true: stateful data serves windows in order"),
        (
            ["data.stateful=true", "data.shuffle=false", "data.num_windows.val=10"],
            "Error: invalid config: data.stateful=true needs data.num_windows >= data.batch_size=64 (one stream per batch row), got {'val': 10}",
        ),
        (["data.burn_in_steps=20"], "Error: invalid config: data.burn_in_steps=20: must be an integer in [0, data.window_length=20) so some steps"),
    ],
)
def test_train_answers_a_config_mistake_without_importing_torch(overrides: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli("train", *overrides, run_dir=tmp_path, check=False, env=IMPORT_TIMES)
    modules = imported(result.stderr)
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1 and error_lines(result.stderr)[0].startswith(message)
    assert "seqexp.signatures" in modules  # the pass read the source (and the import profile was read)
    assert not {"torch", "lightning"} & modules


def saved_run(folder: Path, *overrides: str) -> Path:
    """A run folder holding its config as Hydra saves it and a whole checkpoint file that holds nothing: the config
    pass comes before the checkpoint is read. Its ``checkpoints/last.ckpt``."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    saved = compose_train(*overrides)
    with open_dict(saved):
        saved.pop("hydra")  # as Hydra saves a run's config
    OmegaConf.save(saved, folder / ".hydra" / "config.yaml")
    zipfile.ZipFile(folder / "checkpoints" / "last.ckpt", "w").close()
    return folder / "checkpoints" / "last.ckpt"


def test_eval_binds_the_runs_data_config_with_its_overrides(tmp_path: Path) -> None:
    result = run_cli("eval", f"ckpt_path={saved_run(tmp_path / 'run')}", "+data.batch_size=0", run_dir=tmp_path / "eval", check=False, env=IMPORT_TIMES)
    assert result.returncode == 1
    assert error_lines(result.stderr) == ["Error: invalid config: data.batch_size=0: must be an integer >= 1"]
    assert "Traceback" not in result.stderr
    assert not {"torch", "lightning"} & imported(result.stderr)


@pytest.mark.parametrize("data", ["sine", "text"])
def test_predict_binds_the_runs_data_config_before_importing_torch(data: str, tmp_path: Path) -> None:
    """Text model or not is read from the run's config (its data class, from the source), not from the checkpoint."""
    result = run_cli(
        "predict",
        f"ckpt_path={saved_run(tmp_path / 'run', f'data={data}')}",
        "+data.batch_size=0",
        f"output_file={tmp_path / 'out.csv'}",
        cwd=tmp_path,
        check=False,
        env=IMPORT_TIMES,
    )
    assert result.returncode == 1
    assert error_lines(result.stderr) == ["Error: invalid config: data.batch_size=0: must be an integer >= 1"]
    assert "Traceback" not in result.stderr
    assert not {"torch", "lightning"} & imported(result.stderr)


def test_the_source_tells_which_data_is_text() -> None:
    assert derives_from("seqexp.data.text.TextDataModule", TEXT_DATA)
    assert derives_from("seqexp.data.text.datamodule.TextDataModule", TEXT_DATA)  # the module's own name
    assert not derives_from("seqexp.data.series.SeriesDataModule", TEXT_DATA)
    with pytest.raises(Unread):
        derives_from("sklearn.linear_model.LogisticRegression", TEXT_DATA)  # not seqexp's: the checkpoint tells


def seqexp_targets() -> list[str]:
    """Every ``_target_`` of seqexp's own in conf/, and the classes the `model` section selects."""
    targets = {target for path in CONF.rglob("*.yaml") for target in _targets(OmegaConf.to_container(OmegaConf.load(path)))}
    return sorted(target for target in targets if target.startswith("seqexp.")) + [
        "seqexp.models.encoder.RecurrentEncoder",
        "seqexp.models.encoder.LSTMFCNEncoder",
        "seqexp.tasks.regression.RegressionTask",
    ]


def _targets(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [str(node["_target_"])] if "_target_" in node else []
        return own + [target for value in node.values() for target in _targets(value)]
    return [target for value in node for target in _targets(value)] if isinstance(node, list) else []


@pytest.mark.parametrize("target", seqexp_targets())
def test_the_source_tells_what_importing_tells(target: str) -> None:
    """Parameters, their kinds and defaults, and the declarations the checks read: the same from the source as from
    the imported class; a class the source cannot tell is left to the pass that imports it."""
    cls = locate(target)
    try:
        read = read_signature(target)
    except Unread:
        assert not target.startswith(("seqexp.data.", "seqexp.tasks.", "seqexp.models.")), f"{target}: our own classes must be read"
        return
    signature = inspect.signature(cls)
    assert [(p.name, p.kind, p.default is p.empty) for p in read.signature.parameters.values()] == [
        (p.name, p.kind, p.default is p.empty) for p in signature.parameters.values()
    ]
    hints = {name: value for name, value in merged_declarations(read.annotations).items() if name not in read.unread}
    assert {name: repr(value) for name, value in hints.items()} == {name: repr(value) for name, value in declared_types(cls).items() if name in hints}
    assert set(declared_types(cls)) - set(hints) <= read.unread


def test_a_package_reexport_and_its_module_name_the_same_class() -> None:
    assert read_signature("seqexp.tasks.RegressionTask").signature == read_signature("seqexp.tasks.regression.RegressionTask").signature
    with pytest.raises(Unread):
        read_signature("lightning.pytorch.Trainer")  # another library's: bound once imported


@pytest.mark.parametrize("target", seqexp_targets())
def test_the_source_reads_each_rule_of_ours_as_the_class_defines_it(target: str) -> None:
    """A class of ours with a ``check_config`` has it read from the source (so its mistakes are answered before torch),
    compiled from the same code; a class without one is left to the importing pass, which finds none."""
    owner = next((klass for klass in locate(target).__mro__ if "check_config" in vars(klass)), None)
    try:
        rule = read_rule(target)
    except Unread:
        assert owner is None, f"{target}: {owner.__qualname__}.check_config must be read from the source"
        return
    assert owner is not None and rule is not None
    code, own = rule.func.__code__, owner.check_config.__func__.__code__
    assert (code.co_code, code.co_names, code.co_consts) == (own.co_code, own.co_names, own.co_consts)


def test_a_rule_read_from_the_source_is_not_run_again_once_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    from seqexp.tasks.anomaly import AnomalyTask  # noqa: PLC0415 - the imported class, whose rule must not run

    monkeypatch.setattr(AnomalyTask, "check_config", classmethod(lambda cls, cfg: pytest.fail("AnomalyTask.check_config ran in the importing pass")))
    validate_config(compose_train("data=anomaly"))


class UsersData:
    """Another package's class: the source pass does not read it, so its rule runs once it is imported."""

    def __init__(self, rows: int = 1) -> None:
        self.rows = rows

    @classmethod
    def check_config(cls, cfg: dict) -> None:
        if cfg["data"]["rows"] > 3:
            raise ConfigError(f"data.rows={cfg['data']['rows']}: must be at most 3")


def test_a_rule_the_source_does_not_tell_runs_once_imported() -> None:
    cfg = {"data": {"_target_": f"{__name__}.UsersData", "rows": 5}}
    assert source_rule_problems(cfg) == ([], frozenset())
    assert config_problems(cfg, frozenset()) == ["data.rows=5: must be at most 3"]
    assert config_problems(cfg, frozenset({"data"})) == []  # answered from the source: not run twice


def test_a_function_that_needs_torch_is_left_to_the_importing_pass() -> None:
    with pytest.raises(Unread, match="torch"):
        read_function(lookup("seqexp.data.core.splits", "stratified_split", functions=True))
