"""Settings: defaults, parsing, and the one-line error for invalid values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from tests.support.server import ROOT


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


def test_dotenv_in_the_working_directory_is_read_only_in_development(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATAVISOR_BEHIND_PROXY", raising=False)
    monkeypatch.delenv("DATAVISOR_PORT", raising=False)
    monkeypatch.delenv("DATAVISOR_ENV_FILE", raising=False)
    (tmp_path / ".env").write_text("DATAVISOR_BEHIND_PROXY=true\nDATAVISOR_PORT=9123\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()  # DATAVISOR_ENV_FILE unset: a checkout's .env
    assert settings.behind_proxy is True
    assert settings.port == 9123
    # DATAVISOR_ENV_FILE empty (the units, the image): the working directory's .env is never read.
    monkeypatch.setenv("DATAVISOR_ENV_FILE", "")
    settings = load_settings()
    assert settings.behind_proxy is False
    assert settings.port == 8000


def test_env_file_from_an_explicit_path_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAVISOR_PORT", raising=False)
    (tmp_path / ".env").write_text("DATAVISOR_PORT=9123\n")
    explicit = tmp_path / "etc" / "datavisor.env"
    explicit.parent.mkdir()
    explicit.write_text("DATAVISOR_PORT=9200\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAVISOR_ENV_FILE", str(explicit))
    assert load_settings().port == 9200
    monkeypatch.setenv("DATAVISOR_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError, match="DATAVISOR_ENV_FILE: .*missing.env is not a file"):
        load_settings()


def test_a_served_process_ignores_a_planted_env_file(tmp_path: Path) -> None:
    """What a service-writable working directory could plant is not read when DATAVISOR_ENV_FILE is empty."""
    (tmp_path / ".env").write_text("DATAVISOR_PLUGINS_ENABLED=evil\nDATAVISOR_EMBEDDING_MODEL=/tmp/evil.pt\n")
    show = [sys.executable, "-m", "app.cli", "config"]
    env = clean_env(PYTHONPATH=str(ROOT))
    planted = json.loads(subprocess.run(show, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout)
    assert planted["plugins_enabled"] == ["evil"]  # the development default does read it: the test can fail
    env["DATAVISOR_ENV_FILE"] = ""
    out = json.loads(subprocess.run(show, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout)
    assert out["plugins_enabled"] is None
    assert out["embedding_model"] is None


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
        timeout=300,  # importing the app (torch) takes a minute on a loaded 2-core machine
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
