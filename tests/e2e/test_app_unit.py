"""The app's own unit tests (Vitest: colour assignment, URL state), run by pytest so `make test` and CI
run them too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_vitest_unit_tests_pass() -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm not found: the app's unit tests need Node.js 18+ (CI installs nodejs and npm)")
    subprocess.run([str(ROOT / "scripts" / "build-ui.sh"), "--deps"], check=True, timeout=600)
    result = subprocess.run(
        ["npm", "test", "--", "--run", "--reporter=verbose"],
        cwd=ROOT / "frontend",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout.split("Test Files")[-1], result.stdout
