"""The house rules, run by the README's test command: the layer contracts of pyproject.toml's
[tool.importlinter] (`lint-imports`), and the linter and formatter of [tool.ruff] over src, tests and scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    # the console script that sits next to this interpreter (a virtualenv's bin/), else the one on PATH
    local = Path(sys.executable).parent / tool
    executable = str(local) if local.exists() else shutil.which(tool)
    if executable is None:
        pytest.fail(f"{tool} is not installed: pip install -e '.[dev]'")
    return subprocess.run([executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_layer_contracts_hold():
    result = _run("lint-imports")
    assert result.returncode == 0, f"lint-imports: broken layer contracts\n{result.stdout}{result.stderr}"


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", "src", "tests", "scripts")
    assert result.returncode == 0, f"ruff check src tests scripts (`ruff check --fix ...` sorts imports)\n{result.stdout}{result.stderr}"


def test_code_is_formatted():
    result = _run("ruff", "format", "--check", "--no-cache", "src", "tests", "scripts")
    assert result.returncode == 0, f"ruff format --check src tests scripts (`ruff format src tests scripts` rewrites them)\n{result.stdout}{result.stderr}"
