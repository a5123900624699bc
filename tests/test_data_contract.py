"""The DataModule contract (seqexp.data.core.contract.SeqDataModule): every DataModule of the package and every
``data=`` option implements it, its defaults are neutral or refuse naming what is missing, and the code that
uses DataModules asks the contract instead of probing attributes."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import lightning as L
import pytest
from omegaconf import OmegaConf

import seqexp.data
from seqexp.data.core.contract import SeqDataModule
from seqexp.data.core.spec import DataSpec, PredictionIndex

SRC = Path(seqexp.data.__file__).parents[1]
CONF_DATA = SRC / "conf" / "data"


def package_datamodules() -> list[type]:
    """Every LightningDataModule class defined in a module of seqexp.data, its family packages included."""
    found = []
    for info in pkgutil.walk_packages(seqexp.data.__path__, prefix="seqexp.data."):
        module = importlib.import_module(info.name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, L.LightningDataModule) and value.__module__ == module.__name__
        ]
    return found


def test_every_datamodule_of_the_package_subclasses_the_contract() -> None:
    classes = package_datamodules()
    names = {cls.__name__ for cls in classes}
    assert {
        "SineDataModule",
        "TextDataModule",
        "SeriesDataModule",
        "UCRDataModule",
        "SyntheticAnomalyDataModule",
        "CSVAnomalyDataModule",
        "RealAnomalyDataModule",
    } <= names
    assert [cls.__name__ for cls in classes if not issubclass(cls, SeqDataModule)] == []


@pytest.mark.parametrize("option", sorted(path.stem for path in CONF_DATA.glob("*.yaml")))
def test_every_data_option_builds_a_contract_datamodule(option: str) -> None:
    target = OmegaConf.load(CONF_DATA / f"{option}.yaml").get("_target_")
    if target is None:  # an option that only sets keys of another
        pytest.skip(f"data={option} names no _target_")
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, SeqDataModule) and not inspect.isabstract(cls), target


class Minimal(SeqDataModule):
    @property
    def spec(self) -> DataSpec:
        return DataSpec(input_kind="features", input_size=1, target_kind="per_step", output_size=1)


def test_a_datamodule_without_a_spec_cannot_be_made_and_the_error_names_spec() -> None:
    class NoSpec(SeqDataModule):
        pass

    with pytest.raises(TypeError, match="spec"):
        NoSpec()


def test_defaults_are_neutral_values() -> None:
    datamodule = Minimal()
    assert datamodule.has_validation is True
    assert datamodule.split_keys == ()
    assert datamodule.predicts_new_input is False
    assert datamodule.prediction_index() == PredictionIndex()
    assert datamodule.split_index("val") is None
    assert datamodule.training_budget(1) is None


def test_set_predict_input_refuses_naming_the_class_and_what_it_lacks() -> None:
    with pytest.raises(NotImplementedError, match=r"Minimal takes no new input to predict: it does not implement set_predict_input"):
        Minimal().set_predict_input("new.csv")


def test_nothing_in_src_probes_a_datamodule() -> None:
    probe = re.compile(r"(getattr|hasattr)\((self\.trainer\.|trainer\.)?datamodule\b|isinstance\(datamodule\b")
    hits = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if probe.search(line)
    ]
    assert hits == []


def test_the_built_in_anomaly_series_is_read_when_loaded_not_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import seqexp.data.anomaly.real as anomaly_real

    real_read_table = anomaly_real.read_table

    def no_reading(*args, **kwargs):
        raise AssertionError("read a file while making the DataModule")

    monkeypatch.setattr(anomaly_real, "read_table", no_reading)
    datamodule = anomaly_real.RealAnomalyDataModule(source="ucr_internal_bleeding16")
    monkeypatch.setattr(anomaly_real, "read_table", real_read_table)
    datamodule.prepare_series()
    train_rows = len(real_read_table(datamodule.folder / datamodule.source.train_file).rows)
    assert datamodule.bounds["train"] == (0, train_rows)  # the archive's train prefix, as before
