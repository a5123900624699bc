"""Reading belongs in ``setup`` (seqexp.data.core.contract): a DataModule is made without reading anything, its
``spec`` refuses until ``setup`` has read the data, ``seqexp.builder.build`` sets it up before it builds the task
from the spec, and the Trainer's later ``setup`` calls (fit, test, predict) read nothing again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hydra.utils import instantiate

import seqexp.data.anomaly.real
import seqexp.data.series.datamodule
import seqexp.data.text.datamodule
import seqexp.data.ucr.datamodule
from helpers import compose_train
from seqexp.builder import build
from seqexp.data.core.contract import NotSetUpError
from seqexp.data.text.vocabulary import Vocabulary

FIXTURES = Path(__file__).parent / "fixtures"
TEXT_CSV = [f"data.path={FIXTURES / 'text' / 'reviews.csv'}", "data.text_column=review", "data.label_column=sentiment"]
ANOMALY_CSV = [
    f"data.path={FIXTURES / 'anomaly' / 'series_with_gaps.csv'}",
    "data.timestamp_column=time",
    f"data.windows_path={FIXTURES / 'anomaly' / 'windows.csv'}",
    "data.window_length=2",
    "task.horizon=1",
]
# Per file-backed data option: its small settings, and the module and function through which it reads its files.
READERS = {
    "series": ([], seqexp.data.series.datamodule, "read_series_csv"),
    "ucr": ([], seqexp.data.ucr.datamodule, "read_ts"),
    "text": ([], seqexp.data.text.datamodule, "read_text_rows"),
    "text_csv": (TEXT_CSV, seqexp.data.text.datamodule, "read_text_rows"),
    "anomaly_csv": (ANOMALY_CSV, seqexp.data.anomaly.real, "read_labelled_csv"),
    "anomaly_real": ([], seqexp.data.anomaly.real, "read_labelled_csv"),
}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Calls of each family's file reader, and of the text vocabulary's build (tokenizing the train split)."""
    calls: Counter = Counter()

    def counted(name: str, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    for _, module, name in READERS.values():
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    monkeypatch.setattr(Vocabulary, "build", classmethod(counted("Vocabulary.build", Vocabulary.build.__func__)))
    return calls


@pytest.mark.parametrize("option", sorted(READERS))
def test_a_datamodule_reads_its_files_once_in_setup_and_build_sizes_the_task_from_it(option: str, reads: Counter, tmp_path: Path) -> None:
    settings, _, reader = READERS[option]
    cfg = compose_train(f"data={option}", "logger=none", f"paths.output_dir={tmp_path}", *settings)
    made = instantiate(cfg.data)
    assert reads == Counter()  # making it reads nothing
    with pytest.raises(NotSetUpError, match=rf"^{type(made).__name__}\.spec is known once the data is read: call prepare_data\(\) and setup\(\) first"):
        made.spec

    datamodule, task, _ = build(cfg)
    read_in_build = Counter(reads)
    assert read_in_build[reader] >= 1
    assert task.spec == datamodule.spec  # the task is sized by what setup read (features, vocabulary, classes)
    for stage in ("fit", "validate", "test", "predict"):  # what trainer.fit, .test and .predict call again
        datamodule.prepare_data()
        datamodule.setup(stage)
    assert reads == read_in_build  # no file read, no vocabulary built a second time
    assert read_in_build["Vocabulary.build"] == (1 if option.startswith("text") else 0)


def test_generated_anomaly_data_is_generated_by_setup_not_by_spec() -> None:
    datamodule = instantiate(compose_train("data=anomaly").data)
    with pytest.raises(NotSetUpError, match=r"^SyntheticAnomalyDataModule\.spec"):
        datamodule.spec
    assert datamodule.raw_values is None  # asking for the spec generated nothing
    datamodule.setup("fit")
    assert datamodule.spec.input_size == datamodule.raw_values.shape[1] == datamodule.num_features
