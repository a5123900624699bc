"""Bad input corpus: each case fails with a message naming the key (and what is allowed) or the file,
and leaves the outputs of an earlier run untouched.

Config and checkpoint cases point their output folder at a finished run: the failure must come
before anything is written there. Hydra's own record of an invocation (``.hydra/``, ``*.log``) is
not run output and is left out of the comparison.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate

from helpers import compose_train, read_metrics, run_cli
from seqexp.callbacks import NonFiniteLossError
from seqexp.config import ConfigError, validate_config
from seqexp.safety import CheckpointError, OutputError
from seqexp.train import train

TINY_CLI = [
    "data.num_windows.train=128",
    "data.num_windows.val=64",
    "data.num_windows.test=64",
    "model.hidden_size=8",
    "trainer.max_epochs=1",
    "logger=none",
    "callbacks.figures=null",
]
TINY = TINY_CLI


def snapshot(run_dir: Path) -> dict[str, str]:
    """Content hash of every run output (checkpoints, metrics, logs of the trainer)."""
    return {
        str(path.relative_to(run_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and ".hydra" not in path.parts and path.suffix != ".log"
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished")
    train(compose_train(*TINY, f"paths.output_dir={run_dir}"))
    assert {"checkpoints/last.ckpt", "metrics.json"} <= set(snapshot(run_dir))
    return run_dir


@pytest.fixture
def untouched(finished_run: Path):
    """The finished run; after the test, its outputs must be byte for byte as before."""
    before = snapshot(finished_run)
    yield finished_run
    assert snapshot(finished_run) == before


def train_into(run_dir: Path, *overrides: str) -> None:
    train(compose_train(*TINY, f"paths.output_dir={run_dir}", *overrides))


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden_size=abc"], "model.hidden_size='abc': must be an integer >= 1"),
        (["model.hidden_size=0"], "model.hidden_size=0: must be an integer >= 1"),
        (["model.dropout=1.0"], "model.dropout=1.0: must be a number in [0, 1)"),
        (["model.num_layers=0"], "model.num_layers=0: must be an integer >= 1"),
        (["model.cell=transformer"], "model.cell='transformer': must be one of ['gru', 'lstm', 'rnn']"),
        (["data.window_length=0"], "data.window_length=0: must be an integer >= 1"),
        (["data.burn_in_steps=20"], "data.burn_in_steps=20: must be an integer in [0, data.window_length=20)"),
        (["data.noise_std=nan"], "data.noise_std=nan: must be a finite number >= 0"),
        (["data.stateful=true"], "data.stateful=true with data.shuffle=true: stateful data serves windows in order, set data.shuffle=false"),
        (
            ["data.stateful=true", "data.shuffle=false", "data.num_windows.val=10"],
            "data.stateful=true needs data.num_windows >= data.batch_size=64 (one stream per batch row), got {'val': 10}",
        ),
        (["trainer.max_epochs=abc"], "trainer.max_epochs='abc': must be null, -1 (no limit) or an integer >= 0"),
        (["trainer.precision=8"], "trainer.precision=8: must be one of [64, 32, 16, 'transformer-engine'"),
        (["trainer.accelerator=tpu"], "trainer.accelerator='tpu': must be one of ['auto', 'cpu', 'gpu', 'cuda', 'mps']"),
        (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1: must be null or a number >= 0"),
        (["trainer.limit_train_batches=2.5"], "trainer.limit_train_batches=2.5: must be null, an integer >= 0 (batches) or a number in [0, 1]"),
        (["trainer.min_epochs=5", "trainer.max_epochs=2"], "trainer.min_epochs=5: larger than trainer.max_epochs=2"),
        (["optim.lr=0"], "optim.lr=0: must be a number > 0"),
        (["seed=-1"], "seed=-1: must be an integer in [0, 4294967295]"),
        (["+model.hiden_size=8"], "model.hiden_size: not a model key; the keys are ['architecture', 'cell', 'hidden_size'"),  # Hydra's advice for a typo
    ],
)
def test_bad_config_value_names_the_key_and_allowed_values(overrides: list[str], message: str, untouched: Path) -> None:
    with pytest.raises(ConfigError) as error:
        train_into(untouched, *overrides)
    assert message in str(error.value)


@pytest.mark.parametrize("key", ["task.instance_norm", "task.linear_skip"])
def test_a_forecast_switch_must_be_true_or_false(key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}='yes': must be true or false"):
        validate_config(compose_train("data=series", f"{key}=yes"))


def test_unknown_group_option_lists_the_options() -> None:
    with pytest.raises(MissingConfigException, match=r"Could not find 'model/foo'\n\nAvailable options in 'model':\n\tbidirectional"):
        compose_train("model=foo")


def test_unknown_key_is_refused_by_struct_mode() -> None:
    with pytest.raises(ConfigCompositionException, match=r"Could not override 'model.hiden_size'"):
        compose_train("model.hiden_size=8")


def test_bidirectional_forecast_is_supported(tmp_path: Path) -> None:
    """The backward direction reads only the input window; the forecast targets come after it."""
    train_into(tmp_path, "model=bidirectional", "data.target=forecast", "debug=fast_dev_run")
    assert read_metrics(tmp_path)["metrics"]["test/mse"] > 0


# ------------------------------------------------------------------ checkpoints


class WritesAFileWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def bad_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Name -> (file, what the message must say)."""
    truncated, text, weights, unsafe = (folder / name for name in ("truncated.ckpt", "notes.ckpt", "weights.pt", "unsafe.ckpt"))
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text.write_text("not a checkpoint\n")
    torch.save({"encoder.weight": torch.zeros(2)}, weights)
    torch.save({"state_dict": {}, "payload": WritesAFileWhenUnpickled(folder / "unpickled")}, unsafe)
    return {
        "missing": (folder / "nope.ckpt", "no such file"),
        "truncated": (truncated, "not a complete PyTorch checkpoint (truncated, or another kind of file"),
        "text": (text, "not a complete PyTorch checkpoint (truncated, or another kind of file"),
        "plain_state_dict": (weights, "not a Lightning training checkpoint (missing ['state_dict', 'hyper_parameters'"),
        "arbitrary_object": (unsafe, "holds Python objects that weights-only loading refuses"),
    }


@pytest.mark.parametrize("case", ["missing", "truncated", "text", "plain_state_dict", "arbitrary_object"])
def test_bad_ckpt_path_gives_a_clear_error(case: str, untouched: Path, tmp_path: Path) -> None:
    path, message = bad_checkpoints(tmp_path, untouched / "checkpoints" / "last.ckpt")[case]
    with pytest.raises(CheckpointError) as error:
        train_into(untouched, f"ckpt_path={path}")
    assert f"ckpt_path={path}: {message}" in str(error.value)
    assert not (tmp_path / "unpickled").exists()  # the object was never built


def test_truncated_checkpoint_from_the_cli_fails_before_writing(untouched: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "last.ckpt"
    truncated.write_bytes((untouched / "checkpoints" / "last.ckpt").read_bytes()[:1000])
    result = run_cli("train", *TINY_CLI, f"ckpt_path={truncated}", run_dir=untouched, check=False)
    assert result.returncode == 1
    assert f"Error: ckpt_path={truncated}: not a complete PyTorch checkpoint" in result.stderr
    assert "Traceback" not in result.stderr  # the user's mistake: one line, no trace


def test_eval_refuses_a_bad_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    result = run_cli("eval", f"ckpt_path={text}", run_dir=tmp_path / "eval", check=False)
    assert result.returncode == 1
    assert f"ckpt_path={text}: not a complete PyTorch checkpoint" in result.stderr


# ------------------------------------------------------------------ outputs


def test_fresh_run_into_a_folder_with_checkpoints_is_refused(untouched: Path) -> None:
    with pytest.raises(OutputError) as error:
        train_into(untouched)
    assert f"paths.checkpoint_dir={untouched / 'checkpoints'}: already holds" in str(error.value)
    assert f"resume it with ckpt_path={untouched / 'checkpoints' / 'last.ckpt'} (or ckpt_path=last)" in str(error.value)


def test_ckpt_path_last_resumes_in_place_as_a_requeued_job_would(finished_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    train_into(run_dir, "ckpt_path=last", "trainer.max_epochs=2")  # 2 steps per epoch
    assert read_metrics(run_dir)["global_step"] == 4 and read_metrics(run_dir)["epochs"] == 2


def test_unwritable_output_dir_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OutputError, match=r"paths.checkpoint_dir=.*a_file/checkpoints: not writable \(Not a directory\)"):
        train_into(tmp_path / "run", f"paths.checkpoint_dir={blocker / 'checkpoints'}")
    assert not (tmp_path / "run" / "metrics.json").exists()  # no training happened

    result = run_cli("train", *TINY_CLI, run_dir=blocker / "run", check=False)  # Hydra itself could not create it
    assert result.returncode == 1
    assert f"Error: hydra.run.dir={blocker / 'run'}: {blocker} is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ training


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError) as error:
        train_into(
            tmp_path, "optim=sgd", "optim.lr=1e5", "data.num_windows.train=512", "trainer.max_epochs=4", "callbacks.last_every_n_steps.every_n_train_steps=1"
        )
    message = str(error.value)
    found = re.match(r"training loss became (nan|inf|-inf) at global step (\d+); stopped at global step \d+", message)
    assert found, message
    failed_step = int(found.group(2))
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert f"Last good checkpoint (kept): {last}" in message
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert 0 < checkpoint["global_step"] < failed_step
    assert all(torch.isfinite(value).all() for value in checkpoint["state_dict"].values())
    assert not (tmp_path / "metrics.json").exists()


# ------------------------------------------------------------------ data files (text, anomaly and series loaders)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


SERIES = "value,label\n" + "".join(f"{i % 7}.0,0\n" for i in range(40))


def with_row(row: int, cells: str) -> str:
    """SERIES with data row ``row`` (file line ``row + 2``) replaced."""
    lines = SERIES.splitlines(keepends=True)
    lines[row + 1] = cells + "\n"
    return "".join(lines)


DATA_FILE_CASES = {
    # name: (data preset, extra overrides, file content or None for a missing file, the message (with {path}))
    "text_missing": ("text_csv", [], None, "data.path={path}: no such file"),
    "text_empty": ("text_csv", [], "", "{path}: empty file"),
    "text_only_header": ("text_csv", [], "text,label\n", "{path}: no data rows after the header"),
    "text_wrong_columns": (
        "text_csv",
        [],
        "body,label\nhello,pos\n",
        "{path}: data.text_column='text' is not a column of the file; its header has ['body', 'label']",
    ),
    "text_not_utf8": ("text_csv", [], b"text,label\ngood movie,pos\n\xff\xfe bad bytes,neg\n", "{path}, line 3: not valid utf-8 (byte 0xff)"),
    "text_empty_text": ("text_csv", [], "text,label\ngood movie,pos\n,neg\nfine,pos\n", "{path}, line 3: empty text"),
    "text_unknown_label": (
        "text_csv",
        ["data.labels=[pos,neg]"],
        "text,label\ngood,pos\nbad,neg\nmeh,maybe\n",
        "{path}, line 4: unknown label 'maybe' (data.labels=['pos', 'neg'])",
    ),
    "anomaly_missing": ("anomaly_csv", [], None, "{path}: no such file"),
    "anomaly_empty": ("anomaly_csv", [], "", "{path}: empty file, expected a header line with column names"),
    "anomaly_only_header": ("anomaly_csv", [], "value,label\n", "{path}: no data rows after the header"),
    "anomaly_wrong_column": (
        "anomaly_csv",
        ["data.value_columns=[level]"],
        SERIES,
        "{path}: column 'level' (data.value_columns) is not in the header ['value', 'label']",
    ),
    "anomaly_not_a_number": ("anomaly_csv", [], with_row(5, "abc,0"), "{path}, line 7, column 'value': 'abc' is not a number"),
    "anomaly_nan_policy_error": (
        "anomaly_csv",
        ["data.missing=error"],
        with_row(5, "nan,0"),
        "{path}, line 7, column 'value': missing value (data.missing=error)",
    ),
    "anomaly_label_not_0_1": ("anomaly_csv", [], with_row(5, "1.0,2"), "{path}, line 7, column 'label': label must be 0 or 1, got '2'"),
    "anomaly_short_row": ("anomaly_csv", [], with_row(5, "1.0"), "{path}, line 7: 1 fields, the header has 2"),
    "anomaly_window_longer_than_split": (
        "anomaly_csv",
        ["data.window_length=32"],
        SERIES,
        "data: the train split has 20 points, fewer than data.window_length=32",
    ),
    "series_missing": ("series", [], None, "data.path={path}: no such file"),
    "series_empty": ("series", [], "", "{path}: empty file, expected a header line with column names"),
    "series_only_header": ("series", [], "value,label\n", "{path}: no data rows after the header"),
    "series_wrong_column": ("series", ["data.columns=[level]"], SERIES, "{path}: data.columns has ['level'], not in the header ['value', 'label']"),
    "series_not_a_number": ("series", [], with_row(5, "abc,0"), "{path}, line 7, column 'value': 'abc' is not a number"),
    "series_window_longer_than_split": (
        "series",
        ["data.input_length=30"],
        SERIES,
        "data.input_length=30 + data.horizon=2 leave no train window: data.csv has 40 steps",
    ),
    "series_nan_policy_error": ("series", ["data.missing=error"], with_row(5, "nan,0"), "{path}, line 7, column 'value': missing value"),
    "series_short_row": ("series", [], with_row(5, "1.0"), "{path}, line 7: 1 fields, the header has 2"),
    "series_question_mark_policy_error": (
        "series",
        ["data.missing=error"],
        with_row(5, "?,0"),
        "{path}, line 7, column 'value': missing value (data.missing=error)",
    ),
    "anomaly_question_mark_policy_error": (
        "anomaly_csv",
        ["data.missing=error"],
        with_row(5, "?,0"),
        "{path}, line 7, column 'value': missing value (data.missing=error)",
    ),
}


@pytest.mark.parametrize("case", list(DATA_FILE_CASES))
def test_bad_data_file_names_the_file_and_line(case: str, tmp_path: Path) -> None:
    preset, extra, content, message = DATA_FILE_CASES[case]
    path = tmp_path / "data.csv" if content is None else write(tmp_path, "data.csv", content)
    defaults = {
        "anomaly_csv": ["data.label_column=label", "data.window_length=4"],
        "series": ["data.input_length=4", "data.horizon=2", "data.time_column=null"],
    }.get(preset, [])
    cfg = compose_train(f"data={preset}", f"data.path={path}", *defaults, *extra)
    with pytest.raises((ValueError, OSError)) as error:
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
    assert message.format(path=path) in str(error.value)


def test_a_quote_never_closed_from_the_cli_names_the_line_it_opened_on(tmp_path: Path) -> None:
    """Not a bad row that data.on_bad_row=skip may skip: the quote swallows the good rows after it."""
    path = write(tmp_path, "q.csv", 'text,label\ngood one,pos\n"bad, film,neg\nfine movie,pos\nawful,neg\n')
    result = run_cli("train", "data=text_csv", f"data.path={path}", "data.on_bad_row=skip", run_dir=tmp_path / "run", check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f'Error: {path}, line 3: a quote opened here is never closed (the rest of the file, lines 3-5, would be one cell); close it or escape it as ""'
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("preset", ["anomaly_csv", "series"])
def test_inf_in_a_series_is_refused_naming_the_line(preset: str, tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", with_row(5, "inf,0"))
    extra = ["data.label_column=label", "data.window_length=4"] if preset == "anomaly_csv" else ["data.input_length=4", "data.horizon=2"]
    datamodule = instantiate(compose_train(f"data={preset}", f"data.path={path}", *extra).data)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*line 7"):
        datamodule.prepare_data()
        datamodule.setup("fit")


def test_bad_data_file_on_resume_leaves_the_run_untouched(untouched: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "series.csv", with_row(5, "abc,0"))
    with pytest.raises(ValueError, match="line 7, column 'value': 'abc' is not a number"):
        train(
            compose_train(
                "data=anomaly_csv",
                f"data.path={path}",
                "data.label_column=label",
                "data.window_length=4",
                "task.horizon=2",
                "trainer.max_epochs=1",
                "logger=none",
                "callbacks.figures=null",
                f"paths.output_dir={untouched}",
                f"ckpt_path={untouched / 'checkpoints' / 'last.ckpt'}",
            )
        )


def test_nan_loss_found_by_the_deferred_check_names_the_first_bad_step(tmp_path: Path) -> None:
    """With the NaN record read every 50 steps, the run stops at the epoch end, naming the first bad step."""
    with pytest.raises(NonFiniteLossError) as error:
        train_into(tmp_path, "optim=sgd", "optim.lr=1e5", "data.num_windows.train=512", "callbacks.guards.check_every_n_steps=50")
    found = re.match(
        r"training loss became \S+ at global step (\d+); stopped at global step (\d+) \(epoch 0\)\. "
        r"No checkpoint had been saved yet\.",
        str(error.value),
    )
    assert found, str(error.value)
    assert int(found.group(1)) < int(found.group(2)) == 8  # found at the epoch's last batch (8 batches)
    assert not list(tmp_path.glob("checkpoints/*.ckpt"))


def test_a_missing_ucr_file_names_its_key_without_a_traceback(tmp_path: Path) -> None:
    train_file = tmp_path / "Mine_TRAIN.ts"
    train_file.write_text("placeholder: never read, the test file is missing\n")
    missing = tmp_path / "Mine_TEST.ts"
    result = run_cli("train", "data=ucr", f"data.train_path={train_file}", f"data.test_path={missing}", run_dir=tmp_path / "run", check=False)
    assert result.returncode == 1
    assert f"Error: data.test_path={missing}: no such .ts file" in result.stderr
    assert "Traceback" not in result.stderr
