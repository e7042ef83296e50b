"""The built app for the tests that need it: built first, by the script `make ui` runs, when app/webui is
missing or older than frontend/'s sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "app" / "webui"


def ensure_built() -> Path:
    if shutil.which("npm") is None:
        pytest.fail("npm not found: the app's tests build it with Node.js 18+ (CI installs nodejs and npm)")
    subprocess.run([str(ROOT / "scripts" / "build-ui.sh"), "--if-stale"], check=True, timeout=900)
    assert (WEBUI / "index.html").is_file(), "scripts/build-ui.sh did not produce app/webui/index.html"
    return WEBUI
