"""The app's TypeScript API types (frontend/src/lib/api/schema.d.ts) are generated from the backend's
OpenAPI schema; this fails when the committed file no longer matches the schema the code produces."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
COMMITTED = FRONTEND / "src" / "lib" / "api" / "schema.d.ts"


def test_generated_api_types_are_current(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm not found: the app's type check needs Node.js 18+ (CI installs nodejs and npm)")
    subprocess.run([str(ROOT / "scripts" / "build-ui.sh"), "--deps"], check=True, timeout=600)
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        ["node", "scripts/gen-api.mjs", "--out", str(fresh)], cwd=FRONTEND, check=True, timeout=300, capture_output=True
    )
    assert fresh.read_text() == COMMITTED.read_text(), (
        "frontend/src/lib/api/schema.d.ts is stale: run `cd frontend && npm run gen:api` and commit it"
    )
