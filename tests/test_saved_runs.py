"""Runs saved before the data layer was regrouped (issue 24 item 3) name their DataModule by its old path in
``.hydra/config.yaml``; those paths must keep loading for a release."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hydra.utils import instantiate

from helpers import compose_train
from seqexp.config import validate_config
from seqexp.data.anomaly import CSVAnomalyDataModule, RealAnomalyDataModule

FIXTURES = Path(__file__).parent / "fixtures"
# The `_target_`s that conf/data/ named at 7e8c8d0 and until the regrouping, whose modules moved
OLD_TARGETS = {
    "anomaly_csv": ("seqexp.data.anomaly_real.CSVAnomalyDataModule", CSVAnomalyDataModule),
    "anomaly_real": ("seqexp.data.anomaly_real.RealAnomalyDataModule", RealAnomalyDataModule),
}


@pytest.mark.parametrize("option", sorted(OLD_TARGETS))
def test_an_old_anomaly_real_target_builds_the_new_class_and_warns_naming_its_path(option: str) -> None:
    old_target, new_class = OLD_TARGETS[option]
    cfg = compose_train(f"data={option}", *([f"data.path={FIXTURES / 'anomaly' / 'plain.csv'}", "data.label_column=label"]
                                             if option == "anomaly_csv" else []))
    cfg.data._target_ = old_target
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_config(cfg)  # the validation pass binds the old path to the class's signature
        datamodule = instantiate(cfg.data)
    assert type(datamodule) is new_class
    moved = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(f"seqexp.data.anomaly.{new_class.__name__}" in message for message in moved), moved
