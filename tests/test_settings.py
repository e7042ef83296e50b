"""Settings: defaults, parsing, and the one-line error for invalid values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from tests.server import ROOT


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAVISOR_")}
    env.update(extra)
    return env


def test_default_behind_proxy_prints_false(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from app.config import get_settings; print(get_settings().behind_proxy)"],
        cwd=ROOT,
        env=clean_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "False\n"


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("DATAVISOR_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)
    settings = load_settings(_env_file=None)
    assert settings.db_path == ROOT / "data" / "datavisor.duckdb"
    assert settings.state_dir == ROOT / "data"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.cors_origins == ["http://localhost:3000"]
    assert settings.thumbnail_cache_dir == ROOT / "data" / "thumbnails"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('["https://a.example", "http://localhost:3000"]', ["https://a.example", "http://localhost:3000"]),
        ("https://a.example, https://b.example:8443", ["https://a.example", "https://b.example:8443"]),
        ("", []),
    ],
)
def test_cors_origins_accept_json_and_commas(monkeypatch: pytest.MonkeyPatch, value: str, expected: list) -> None:
    monkeypatch.setenv("DATAVISOR_CORS_ORIGINS", value)
    assert load_settings(_env_file=None).cors_origins == expected


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAVISOR_BEHIND_PROXY", raising=False)
    (tmp_path / ".env").write_text("DATAVISOR_BEHIND_PROXY=true\nDATAVISOR_PORT=9123\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.behind_proxy is True
    assert settings.port == 9123


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATAVISOR_PORT", "abc"),
        ("DATAVISOR_PORT", "70000"),
        ("DATAVISOR_BEHIND_PROXY", "maybe"),
        ("DATAVISOR_CORS_ORIGINS", "*"),
        ("DATAVISOR_CORS_ORIGINS", '["http://ok.example", "*"]'),
        ("DATAVISOR_CORS_ORIGINS", "[not json"),
        ("DATAVISOR_GRACEFUL_SHUTDOWN_TIMEOUT", "0"),
        ("DATAVISOR_LOG_LEVEL", "loud"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["-m", "app.cli", "serve"], ["-m", "uvicorn", "app.main:app", "--port", "0"]],
    ids=["datavisor-serve", "uvicorn"],
)
def test_invalid_value_stops_startup_with_one_line(variable: str, value: str, command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("datavisor: invalid configuration: ")
    assert variable in lines[0]
    assert "Traceback" not in proc.stderr


def test_config_error_is_a_clean_exit() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None, port="abc")
    assert info.value.code == 2
    assert "DATAVISOR_PORT" in str(info.value)
