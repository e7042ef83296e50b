"""The Ansible role (ansible/roles/datavisor), rendered with Ansible itself on localhost.

- the reference units under systemd/ are exactly what the role renders with its default variables;
- meta/argument_specs.yml lists the same variables as defaults/main.yml;
- the proxy flag decides the bind address, CORS and proxy headers; the env file is valid for the app's Settings;
- preflight refuses a TimeoutStopSec that cannot cover the graceful timeout plus the checkpoint budget.
The role on real systemd is proven by `make molecule` (ansible/molecule/default).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.config import Settings
from tests.ansible_local import run_playbook

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "ansible" / "roles" / "datavisor"


def render(tmp_path: Path, **extra_vars: object) -> dict[str, str]:
    """Render the role's templates with defaults/main.yml + vars/main.yml (+ extra vars, which win)."""
    out = tmp_path / "out"
    out.mkdir()
    tasks = [
        {"ansible.builtin.include_vars": {"file": str(ROLE / "defaults" / "main.yml")}},
        {"ansible.builtin.include_vars": {"file": str(ROLE / "vars" / "main.yml")}},
    ] + [
        {
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / f"{name}.j2"),
                "dest": str(out / name),
                "mode": "0644",
            }
        }
        for name in ("datavisor.service", "datavisor.env")
    ]
    result = run_playbook(tmp_path, tasks, extra_vars)
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text() for path in out.iterdir()}


def exec_start(unit: str) -> str:
    match = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", unit, re.M)
    assert match, unit
    return " ".join(match.group(1).replace("\\\n", " ").split())


def env_file(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_reference_units_are_the_default_rendering(tmp_path: Path) -> None:
    rendered = render(tmp_path)
    for name, text in rendered.items():
        reference = ROOT / "systemd" / name
        assert reference.read_text() == text, f"systemd/{name} differs from the role's default rendering"


def test_argument_specs_list_every_default() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(specs) == sorted(defaults)
    for name, spec in specs.items():
        assert spec.get("description"), f"{name} has no description"
        if "default" in spec:  # a literal default must be the same in both files
            assert spec["default"] == defaults[name], name


def test_default_unit_runs_one_uvicorn_worker_with_the_stop_budget(tmp_path: Path) -> None:
    unit = render(tmp_path)["datavisor.service"]
    assert exec_start(unit) == (
        "/opt/datavisor/current/bin/uvicorn app.main:app --host 127.0.0.1 --port 8000 --workers 1 "
        "--timeout-graceful-shutdown 20 --no-proxy-headers --log-level info"
    )
    assert "\nKillSignal=SIGTERM\n" in unit
    assert "\nTimeoutStopSec=60\n" in unit  # 20 graceful + 30 checkpoint budget + 10 margin
    assert "\nRestart=on-failure\n" in unit
    assert not re.search(r"^MemoryDenyWriteExecute=", unit, re.M)


@pytest.mark.parametrize("behind_proxy", [True, False])
def test_proxy_flag_decides_bind_address_cors_and_proxy_headers(tmp_path: Path, behind_proxy: bool) -> None:
    rendered = render(
        tmp_path,
        datavisor_behind_proxy=behind_proxy,
        datavisor_bind_address="0.0.0.0",
        datavisor_cors_origins=["http://localhost:3000", "https://ui.example.org"],
        datavisor_graceful_shutdown_timeout=30,
        datavisor_checkpoint_budget=45,
    )
    command = exec_start(rendered["datavisor.service"])
    host = "127.0.0.1" if behind_proxy else "0.0.0.0"
    assert f"--host {host} " in command
    assert ("--proxy-headers --forwarded-allow-ips 127.0.0.1" in command) == behind_proxy
    assert "--timeout-graceful-shutdown 30 " in command
    assert "\nTimeoutStopSec=85\n" in rendered["datavisor.service"]

    env = env_file(rendered["datavisor.env"])
    assert env["DATAVISOR_BEHIND_PROXY"] == str(behind_proxy).lower()
    assert env["DATAVISOR_HOST"] == host
    # The app reads the file the way systemd hands it over: every DATAVISOR_* setting is valid.
    settings = Settings(**{key.removeprefix("DATAVISOR_").lower(): value for key, value in env.items()})
    assert settings.behind_proxy is behind_proxy
    assert settings.cors_origins == ["http://localhost:3000", "https://ui.example.org"]
    assert settings.db_path == Path("/var/lib/datavisor/datavisor.duckdb")
    assert settings.data_roots == [Path("/srv/datavisor/datasets")]
    assert settings.graceful_shutdown_timeout == 30


def test_env_file_carries_every_setting_of_the_app(tmp_path: Path) -> None:
    rendered = render(
        tmp_path,
        datavisor_plugins_enabled=["brightness"],
        datavisor_embedding_model="/srv/datavisor/models/model.pt",
        datavisor_duckdb_memory_limit="4GB",
        datavisor_duckdb_checkpoint_threshold="64MiB",
    )
    env = env_file(rendered["datavisor.env"])
    assert sorted(env) == sorted(f"DATAVISOR_{name.upper()}" for name in Settings.model_fields)
    settings = Settings(**{key.removeprefix("DATAVISOR_").lower(): value for key, value in env.items()})
    assert settings.plugins_enabled == ["brightness"]
    assert settings.duckdb_memory_limit == "4GB"


def test_preflight_refuses_a_stop_budget_that_cannot_cover_the_graceful_timeout(tmp_path: Path) -> None:
    tasks = [{"ansible.builtin.include_role": {"name": "datavisor", "tasks_from": "preflight"}}]
    result = run_playbook(
        tmp_path, tasks, {"datavisor_graceful_shutdown_timeout": 40, "datavisor_timeout_stop_sec": 50}
    )
    assert result.returncode != 0
    assert "TimeoutStopSec=50 cannot cover the graceful timeout (40 s)" in result.stdout
