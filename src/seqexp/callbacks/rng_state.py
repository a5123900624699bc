"""Carry the random number generators' state in checkpoints, so a resumed run draws the same
dropout masks (and any other random numbers) as the run it continues. Lightning does not save them."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


class RngState(L.Callback):
    """Python, NumPy and torch CPU (and CUDA, when used) generator states, as plain values and tensors
    (what a weights-only load reads). The Mersenne Twister words go in as one int64 tensor each, not
    as 625 Python ints: ``torch.save`` calls a Python hook per object it pickles, and the ints made
    this state a sixth of a small model's checkpoint save. Checkpoints holding the lists still load."""

    def state_dict(self) -> dict[str, Any]:
        numpy_state = np.random.get_state(legacy=False)
        version, internal, gauss = random.getstate()
        state = {
            "python": (version, torch.tensor(internal, dtype=torch.int64), gauss),
            "numpy": {**numpy_state, "state": {**numpy_state["state"], "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))}},
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(torch.as_tensor(internal).tolist()), gauss))
        numpy_state = state_dict["numpy"]
        key = np.asarray(torch.as_tensor(numpy_state["state"]["key"]), dtype=np.uint32)
        np.random.set_state({**numpy_state, "state": {**numpy_state["state"], "key": key}})
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
