"""Exported models: a task's forward pass as an ONNX file (or TorchScript, ``.pt``) that carries in its
metadata what is needed to use it, and the runtimes that serve such a file to ``seqexp.predict``.

What a file holds is the task's ``forward``, the part with weights: ``inputs`` (and ``lengths`` for
classification, whose cases may differ in length) -> ``outputs``; for stateful data the recurrent state carried
from batch to batch goes in and comes out too (see ``tensor_specs``). Everything around it
stays seqexp's own code: predicting from a file builds the task from its hyperparameters, puts the file's
graph in place of its ``forward`` (``ExportedModel.task``), restores the DataModule's state from the metadata
and runs the same ``trainer.predict`` and prediction-file writer as a checkpoint, so the files match.

Metadata (ONNX ``metadata_props``; TorchScript: the extra file ``seqexp.json``), each value a JSON text:

    inputs, outputs     name, dtype, shape and meaning of each tensor
    window_length       steps per input window the model was trained on (null: lengths vary)
    labels              class names in the order of the logits (classification)
    data.<key>          the DataModule's saved state: data.scaler (method, offset and scale per feature:
                        scaled = (value - offset) / scale), data.mase_scale (series: the train range's
                        seasonal-naive MAE per target), data.encoder (text: tokenizer, vocabulary with token
                        id = position, max_length), data.class_names
    task.<name>         the task's own saved values: task.threshold (anomaly, chosen on validation)
    hyper_parameters    the task's constructor arguments (they rebuild it)
    run                 the run's seed and its data and task config (they rebuild its data: test split, new input)
    seqexp              {"format": 1, "version": the package's}

Tensors in these values are ``{"dtype": ..., "values": [...]}``. Padded batches: the TorchScript-based ONNX
exporter maps ``pack_padded_sequence`` onto the ``sequence_lens`` input of ONNX's RNN/LSTM/GRU operators, so
padding does not reach the recurrent state there either (bidirectional layers included). The newer
``torch.export``-based exporter refuses packed sequences and unrolls ``nn.RNN`` over a fixed number of steps,
which is why the TorchScript-based one is used.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from hydra.utils import get_class
from torch import nn

from seqexp.config import ConfigError
from seqexp.masks import valid_step_mask
from seqexp.models.encoder import State
from seqexp.safety import is_exported
from seqexp.tasks.base import SequenceTask

FORMAT_VERSION = 1
TORCHSCRIPT_METADATA = "seqexp.json"  # the extra file of a TorchScript model that holds the metadata
ONNX_EXTRA = "the onnx extra: pip install -e '.[onnx]'"
Batch = dict[str, torch.Tensor]


def check_model_file(path: str | Path, key: str) -> Path:
    """``path`` if it ends in .onnx or .pt, else a ConfigError naming ``key``."""
    path = Path(path)
    if not is_exported(path):
        raise ConfigError(f"{key}={path}: must end in .onnx (ONNX) or .pt (TorchScript)")
    return path


# --- JSON values: tensors as {"dtype", "values"} -------------------------------------------------------------


def to_json(value: Any) -> Any:
    """Plain JSON values; a tensor becomes ``{"dtype": "float64", "values": [...]}`` (exact: JSON keeps every digit)."""
    if isinstance(value, torch.Tensor):
        return {"dtype": str(value.dtype).removeprefix("torch."), "values": to_json(value.tolist())}
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    return value


def from_json(value: Any) -> Any:
    """``to_json``'s inverse."""
    if isinstance(value, dict):
        if set(value) == {"dtype", "values"}:
            return torch.tensor(_numbers(value["values"]), dtype=getattr(torch, value["dtype"]))
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def _numbers(values: Any) -> Any:
    """A tensor's values with "nan", "inf" and "-inf" back as floats."""
    if isinstance(values, list):
        return [_numbers(item) for item in values]
    return float(values) if isinstance(values, str) else values


# --- what is exported ---------------------------------------------------------------------------------------


def takes_lengths(task: SequenceTask) -> bool:
    """Classification pools over each case's valid steps: its model file takes ``lengths`` (cases may differ in
    length, text and UCR alike); the other tasks read whole windows."""
    return task.spec.target_kind == "class"


def state_names(task: SequenceTask) -> list[str]:
    """Stateful data (``data.stateful=true``): the recurrent state carried from one batch of the streams to the
    next goes in and comes out of the file, ``h`` (and ``c`` for an LSTM); else nothing."""
    if not task.spec.stateful:
        return []
    return ["state_h", "state_c"] if task.encoder.cell == "lstm" else ["state_h"]


def state_shape(task: SequenceTask, batch: int | str) -> list[int | str]:
    """``(layers * directions, batch, hidden)``, as ``nn.RNN``/``nn.LSTM``/``nn.GRU`` keep it."""
    return task.encoder.state_shape(batch)


def has_time_axis(task: SequenceTask) -> bool:
    """Whether the outputs have one row per input step (per-step regression, anomaly scores)."""
    return task.spec.target_kind in ("per_step", "anomaly")


def tensor_specs(task: SequenceTask, window_length: int | None) -> dict[str, list[dict[str, Any]]]:
    """Name, dtype, shape and meaning of the file's inputs and outputs (the ``inputs`` and ``outputs`` metadata)."""
    spec = task.spec
    time = window_length or "time"
    if spec.input_kind == "tokens":
        inputs = [
            {
                "name": "inputs",
                "dtype": "int64",
                "shape": ["batch", time],
                "meaning": f"token ids (data.encoder's vocabulary; <pad> = {spec.padding_index} after a text's last token)",
            }
        ]
    else:
        inputs = [
            {
                "name": "inputs",
                "dtype": "float32",
                "shape": ["batch", time, spec.input_size],
                "meaning": "features per step, scaled as in training (data.scaler)",
            }
        ]
    if takes_lengths(task):
        inputs.append(
            {
                "name": "lengths",
                "dtype": "int64",
                "shape": ["batch"],
                "meaning": "valid steps of each sequence (the rest is padding); all the time axis when none is padded",
            }
        )
    quantiles = task.hparams.get("quantiles")  # ForecastTask's: a last axis of quantile forecasts
    meanings = {
        "class": (["batch", spec.output_size], "class logits, in the order of labels: softmax gives the probabilities"),
        "per_step": (["batch", time, spec.output_size], "predictions per step, in the targets' units"),
        "horizon": (
            ["batch", spec.horizon, spec.output_size, *([len(quantiles)] if quantiles else [])],
            "forecast, scaled: value = output * scale + offset (data.scaler of the target columns; with "
            "data.center=last each window's last input value, unscaled, is the offset)"
            + (f"; last axis: the quantiles {list(quantiles)} (task.quantiles), increasing; the median is the point forecast" if quantiles else ""),
        ),
        "anomaly": (
            ["batch", time],
            "per-step anomaly score (squared error, mean over features); NaN where a step is not scored "
            "(the context of forecast mode); a point's score is the mean over the windows that score it, "
            "flagged when >= task.threshold",
        ),
    }
    shape, meaning = meanings[spec.target_kind]
    outputs = [{"name": "outputs", "dtype": "float32", "shape": shape, "meaning": meaning}]
    for name in state_names(task):
        inputs.append(
            {
                "name": name,
                "dtype": "float32",
                "shape": state_shape(task, "batch"),
                "meaning": f"the recurrent state ({name[-1]}) after the streams' previous batch; zeros for the first",
            }
        )
        outputs.append(
            {
                "name": f"next_{name}",
                "dtype": "float32",
                "shape": state_shape(task, "batch"),
                "meaning": f"the recurrent state ({name[-1]}) after this batch: {name} of the next",
            }
        )
    return {"inputs": inputs, "outputs": outputs}


class TaskForward(nn.Module):
    """The task's ``forward`` over plain tensors, ``(inputs[, lengths][, state]) -> outputs[, next state]``: what a
    model file holds. The state is what the task carries between batches of stateful data (``encode``)."""

    def __init__(self, task: SequenceTask) -> None:
        super().__init__()
        self.task = task
        self.takes_lengths = takes_lengths(task)

    def forward(self, inputs: torch.Tensor, *more: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        batch = {"inputs": inputs, "lengths": more[0]} if self.takes_lengths else {"inputs": inputs}
        state = more[1:] if self.takes_lengths else more
        if not state:
            return self.task(batch, "predict")
        self.task._carried_state["predict"] = state[0] if len(state) == 1 else tuple(state)
        outputs = self.task(batch, "predict")
        return outputs, *as_tuple(self.task._carried_state["predict"])


def as_tuple(state: State) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def model_arguments(task: SequenceTask, batch: Batch, state: State | None = None) -> tuple[torch.Tensor, ...]:
    """The file's inputs for ``batch``: ``inputs``, ``lengths`` when the file takes them (all steps valid when the
    batch is not padded), and the carried ``state`` when the data is stateful (zeros at first, as PyTorch starts)."""
    arguments = [batch["inputs"]]
    if takes_lengths(task):
        lengths = batch.get("lengths")
        if lengths is None:
            lengths = torch.full((batch["inputs"].shape[0],), batch["inputs"].shape[1], dtype=torch.long)
        arguments.append(lengths.cpu().long())
    names = state_names(task)
    if names:
        zeros = torch.zeros(state_shape(task, batch["inputs"].shape[0]), device=batch["inputs"].device)
        arguments += list(as_tuple(state)) if state is not None else [zeros] * len(names)
    return tuple(arguments)


def example_batches(task: SequenceTask, window_length: int | None) -> list[Batch]:
    """Two batches of random inputs, of other sizes (and, where lengths vary, other lengths, padded): the
    export traces the first and checks the written file on both, so a size fixed by mistake shows."""
    spec, generator = task.spec, torch.Generator().manual_seed(0)
    batches = []
    for size, time in ((3, window_length or 6), (5, window_length or 9)):
        if spec.input_kind == "tokens":
            inputs = torch.randint(spec.padding_index + 1, spec.input_size, (size, time), generator=generator)
        else:
            inputs = torch.randn(size, time, spec.input_size, generator=generator)
        batch = {"inputs": inputs}
        if takes_lengths(task):
            lengths = torch.randint(1, time + 1, (size,), generator=generator)
            lengths[0] = time
            steps = valid_step_mask(lengths, time)  # (batch, time)
            padding = spec.padding_index if spec.input_kind == "tokens" else 0
            batch = {"inputs": inputs.masked_fill(~steps if inputs.dim() == 2 else ~steps.unsqueeze(2), padding), "lengths": lengths}
        batches.append(batch)
    return batches


def unwrapped(task: SequenceTask) -> SequenceTask:
    """The task with its plain encoder (``model.compile=true`` wraps it in ``torch.compile``, which does not trace)."""
    task.encoder = getattr(task.encoder, "_orig_mod", task.encoder)
    return task


def write_model_file(task: SequenceTask, metadata: dict[str, Any], path: Path, opset: int, tolerance: float) -> float:
    """Trace ``task``'s forward to ``path`` (ONNX or TorchScript, by the suffix) with ``metadata``, then run the
    file on the example batches and compare with PyTorch; return the largest difference (ConfigError above
    ``tolerance``)."""
    task = unwrapped(task).eval()
    forward = TaskForward(task).eval()
    window_length = metadata["window_length"]
    batches = example_batches(task, window_length)
    example = model_arguments(task, batches[0])
    names = [spec["name"] for spec in metadata["inputs"]]
    if path.suffix.lower() == ".pt" and state_names(task):
        raise ConfigError(f"data.stateful=true: a TorchScript file ({path}) does not take the hidden state carried from one batch to the next; export to .onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = {key: json.dumps(to_json(value), allow_nan=False) for key, value in metadata.items()}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # shape reads traced as such (checked below)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")  # the file is checked on other sizes below
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded.*")  # a strided slice kept as an op
        if path.suffix.lower() == ".onnx":
            _write_onnx(forward, example, names, [spec["name"] for spec in metadata["outputs"]], has_time_axis(task), path, opset, texts)
        else:  # Lightning's own tracing: the module takes the batch as a dict of the same tensors
            traced = task.to_torchscript(method="trace", example_inputs=(dict(zip(names, example)),))
            torch.jit.save(traced, str(path), _extra_files={TORCHSCRIPT_METADATA: json.dumps(texts)})
        served = ExportedModel.read(path, "output_file")
        difference = 0.0
        for batch in batches:
            expected = forward(*model_arguments(task, batch))
            got = served.run(model_arguments(task, batch))
            for wanted, given in zip(as_tuple(expected), got):
                if given.shape != wanted.shape:
                    raise ConfigError(
                        f"output_file={path}: the written model gives outputs of shape {list(given.shape)} where PyTorch gives {list(wanted.shape)}"
                    )
                gap = (given - wanted).abs().nan_to_num(0.0)
                if not torch.equal(given.isnan(), wanted.isnan()):
                    gap = torch.tensor(float("inf"))
                difference = max(difference, float(gap.max()) if gap.numel() else 0.0)
    if not difference <= tolerance:
        raise ConfigError(
            f"output_file={path}: the written model's outputs differ from PyTorch's by {difference:.3g} "
            f"(tolerance={tolerance}); the file is left for inspection"
        )
    return difference


def _write_onnx(
    forward: TaskForward,
    example: tuple[torch.Tensor, ...],
    names: list[str],
    output_names: list[str],
    time_axis: bool,
    path: Path,
    opset: int,
    texts: dict[str, str],
) -> None:
    try:
        import onnx
    except ImportError:
        raise ConfigError(f"output_file={path}: writing ONNX needs the onnx package ({ONNX_EXTRA}); or write a .pt file") from None
    axes = {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "outputs": {0: "batch", **({1: "time"} if time_axis else {})}}
    axes.update({name: {1: "batch"} for name in [*names, *output_names] if "state" in name})
    with native_notices_dropped(PACKING_NOTICE):
        torch.onnx.export(
            forward,
            example,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=output_names,
            dynamic_axes={name: axes[name] for name in [*names, *output_names]},
        )
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, texts)
    onnx.save(model, str(path))


# PyTorch's C++ side prints this for every packed batch it exports ("may result in wrong shape inference"):
# the written file is checked against PyTorch on padded batches instead.
PACKING_NOTICE = re.compile(r"The shape inference of prim::(PackPadded|PadPacked) type is missing")


@contextmanager
def native_notices_dropped(notice: re.Pattern[str]) -> Iterator[None]:
    """Lines that C++ code writes to the standard error stream (file descriptor 2) go through as usual, except
    those matching ``notice``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True) if not notice.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def metadata_for(task: SequenceTask, run: dict[str, Any], data_state: dict[str, Any]) -> dict[str, Any]:
    """What a model file carries besides its graph (see the module docstring): ``run`` is the run's
    ``{seed, data, task}`` config, ``data_state`` what its DataModule saved in the checkpoint."""
    data = run["data"]
    window_length = task.spec.input_length or data.get("window_length") or data.get("input_length") or None
    metadata: dict[str, Any] = {**tensor_specs(task, window_length), "window_length": window_length}
    if task.spec.target_kind == "class":
        metadata["labels"] = list(task.class_names)
    metadata.update({f"data.{key}": value for key, value in data_state.items()})
    metadata.update({f"task.{name}": buffer.detach().cpu() for name, buffer in task.named_buffers(recurse=False)})
    metadata.update(hyper_parameters=dict(task.hparams), run=run, seqexp={"format": FORMAT_VERSION, "version": version("seqexp")})
    return metadata


# --- serving a model file -------------------------------------------------------------------------------------


class ExportedModel:
    """A model file written by ``seqexp.export``: its metadata, and its forward pass run by onnxruntime
    (.onnx) or TorchScript (.pt) on the CPU."""

    def __init__(self, path: Path, metadata: dict[str, Any], run: Callable[[tuple[torch.Tensor, ...]], tuple[torch.Tensor, ...]]) -> None:
        self.path, self.metadata = path, metadata
        self.run = run  # the file's inputs, in order, on the CPU -> its outputs, in order

    @classmethod
    def read(cls, path: str | Path, key: str = "ckpt_path") -> "ExportedModel":
        path = check_model_file(path, key)
        if not path.is_file():
            raise ConfigError(f"{key}={path}: no such file (a model file written by seqexp.export)")
        session_or_module, texts = (_read_onnx if path.suffix.lower() == ".onnx" else _read_torchscript)(path, key)
        if "seqexp" not in texts:
            raise ConfigError(f"{key}={path}: not written by seqexp.export (its metadata has no seqexp entry)")
        metadata = {name: from_json(json.loads(text)) for name, text in texts.items()}
        if metadata["seqexp"]["format"] > FORMAT_VERSION:
            raise ConfigError(f"{key}={path}: written by seqexp {metadata['seqexp']['version']} in a newer format; upgrade seqexp")
        names = [spec["name"] for spec in metadata["inputs"]]
        if isinstance(session_or_module, torch.jit.ScriptModule):

            def run_torchscript(arguments: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
                # The profiling executor re-optimizes the graph for every new batch shape (texts: every length),
                # which costs more than it saves on these small recurrent graphs (several times on variable-length text).
                with torch.no_grad(), torch.jit.optimized_execution(False):
                    return (session_or_module(dict(zip(names, arguments))),)

            return cls(path, metadata, run_torchscript)

        def run_onnx(arguments: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            feeds = {name: argument.detach().cpu().numpy() for name, argument in zip(names, arguments)}
            return tuple(torch.from_numpy(output) for output in session_or_module.run(None, feeds))

        return cls(path, metadata, run_onnx)

    @property
    def run_config(self) -> dict[str, Any]:
        """The run's ``{seed, data, task}`` config."""
        return self.metadata["run"]

    @property
    def data_state(self) -> dict[str, Any]:
        """What the run's DataModule saved in the checkpoint (``load_state_dict`` restores it)."""
        return {name.split(".", 1)[1]: value for name, value in self.metadata.items() if name.startswith("data.")}

    def task(self) -> SequenceTask:
        """The run's task, built from its hyperparameters, with its saved values and the file's forward pass in
        place of its own (its weights are never used): ``predict_step`` and ``prediction_table`` are the task's."""
        task = get_class(self.run_config["task"]["_target_"])(**self.metadata["hyper_parameters"])
        for name, value in self.metadata.items():
            if name.startswith("task."):
                getattr(task, name.split(".", 1)[1]).copy_(value)
        carries_state = bool(state_names(task))

        def forward(batch: Batch, stage: str = "predict") -> torch.Tensor:
            """The file's outputs for ``batch``, on its device; the state of stateful data is carried as ``encode``
            carries it (and reset where the task resets it, when an epoch starts)."""
            device = batch["inputs"].device
            state = task._carried_state.get(stage) if carries_state else None
            arguments = model_arguments(task, batch, state)
            outputs, *next_state = self.run(tuple(argument.cpu() for argument in arguments))
            if carries_state:
                task._carried_state[stage] = next_state[0] if len(next_state) == 1 else tuple(next_state)
            return outputs.to(device)

        task.forward = forward  # an instance attribute: nn.Module.__call__ runs it
        return task


def _read_onnx(path: Path, key: str) -> tuple[Any, dict[str, str]]:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"{key}={path}: running an ONNX model needs onnxruntime ({ONNX_EXTRA})") from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for a damaged file
        raise ConfigError(f"{key}={path}: not a readable ONNX model ({str(error).splitlines()[0]})") from None
    return session, dict(session.get_modelmeta().custom_metadata_map)


def _read_torchscript(path: Path, key: str) -> tuple[Any, dict[str, str]]:
    extra = {TORCHSCRIPT_METADATA: ""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"{key}={path}: not a TorchScript model written by seqexp.export ({str(error).splitlines()[0]})") from None
    return module.eval(), json.loads(extra[TORCHSCRIPT_METADATA] or "{}")
