"""What seqexp's callbacks put in checkpoints: compact for torch.save, weights-only loadable, and
checkpoints written in the older form still load to the same state."""

from __future__ import annotations

import io
import math
import random
from typing import Any

import numpy as np
import torch

from seqexp.callbacks import RngState, ValidationHistory


def saved_and_loaded(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` through torch.save and a weights-only torch.load, as a checkpoint goes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_restores_every_generator_after_a_weights_only_load() -> None:
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    state = saved_and_loaded(RngState().state_dict())
    expected = draws()
    draws()  # move on, then restore
    RngState().load_state_dict(state)
    assert draws() == expected
    assert isinstance(state["python"][1], torch.Tensor) and state["python"][1].numel() == 625


def test_rng_state_in_the_older_form_of_plain_lists_still_loads() -> None:
    random.seed(6), np.random.seed(7)
    numpy_state = np.random.get_state(legacy=False)
    older = {  # as checkpoints before the tensor form held it
        "python": random.getstate(),
        "numpy": {**numpy_state, "state": {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}},
        "torch": torch.get_rng_state(),
    }
    expected = draws()
    RngState().load_state_dict(saved_and_loaded(older))
    assert draws() == expected


def test_validation_history_round_trips_its_figures_nan_included() -> None:
    history = ValidationHistory()
    history.by_step = {step: {"val/loss": 1.0 / (step + 1), "val/mase": 0.1 * step} for step in range(0, 600, 2)}
    history.by_step[600] = {"val/loss": math.nan, "val/mase": math.inf}
    restored = ValidationHistory()
    restored.load_state_dict(saved_and_loaded(history.state_dict()))
    assert restored.by_step.keys() == history.by_step.keys()
    assert restored.at_step(4) == (4, history.by_step[4])
    newest_step, newest = restored.at_step(None)
    assert newest_step == 600 and math.isnan(newest["val/loss"]) and newest["val/mase"] == math.inf


def test_validation_history_in_the_older_dict_form_still_loads() -> None:
    restored = ValidationHistory()
    restored.load_state_dict(saved_and_loaded({"by_step": {10: {"val/loss": 0.5}}}))
    assert restored.at_step(None) == (10, {"val/loss": 0.5})
