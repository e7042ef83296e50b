"""The Ansible role (ansible/roles/datavisor), rendered with Ansible itself on localhost.

- the reference units under systemd/ are exactly what the role renders with its default variables;
- meta/argument_specs.yml lists the same variables as defaults/main.yml;
- the proxy flag decides the bind address, CORS and proxy headers; the env file is valid for the app's Settings;
- the units start `datavisor serve` (the one start path), read no env file from a writable place, stop a crash
  loop, wait for readiness, and carry the inventory's resource limits with DuckDB's memory_limit below MemoryMax;
- preflight refuses a stop budget that cannot cover the graceful timeout, the checkpoint and the app's own waits,
  and a DuckDB memory_limit that is not below MemoryMax.
The role on real systemd is proven by `make molecule` (ansible/molecule/default).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app import db, main
from app.cli import uvicorn_options
from app.config import Settings
from app.services.jobs import JobManager
from tests.support.ansible import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "ansible" / "roles" / "datavisor"


def render(
    tmp_path: Path, names: tuple[str, ...] = ("datavisor.service", "datavisor.env"), **extra_vars: object
) -> dict[str, str]:
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
        for name in names
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


def unit_values(unit: str, key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", unit, re.M)


def test_default_unit_runs_datavisor_serve_with_the_stop_budget(tmp_path: Path) -> None:
    unit = render(tmp_path)["datavisor.service"]
    assert exec_start(unit) == "/opt/datavisor/current/bin/datavisor serve"
    assert "uvicorn" not in exec_start(unit)
    assert "\nKillSignal=SIGTERM\n" in unit
    assert "\nTimeoutStopSec=60\n" in unit  # 20 graceful + 30 checkpoint budget + 10 margin
    assert "\nRestart=on-failure\n" in unit
    assert not re.search(r"^MemoryDenyWriteExecute=", unit, re.M)


def test_unit_reads_no_env_file_from_a_writable_directory(tmp_path: Path) -> None:
    unit = render(tmp_path)["datavisor.service"]
    assert unit_values(unit, "Environment") == ["DATAVISOR_ENV_FILE="]
    assert unit_values(unit, "EnvironmentFile") == ["/etc/datavisor/datavisor.env"]
    (workdir,) = unit_values(unit, "WorkingDirectory")
    writable = unit_values(unit, "ReadWritePaths")[0].split()
    assert not any((workdir + "/").startswith(path + "/") for path in writable), (workdir, writable)


def test_unit_stops_a_crash_loop_and_waits_for_readiness(tmp_path: Path) -> None:
    unit = render(tmp_path, datavisor_start_limit_burst=4, datavisor_start_limit_interval=120)["datavisor.service"]
    unit_section = unit.split("[Service]")[0]
    assert "\nStartLimitIntervalSec=120\n" in unit_section and "\nStartLimitBurst=4\n" in unit_section
    post = readiness_script(unit)
    assert '-lt 180 ]' in post and "http://127.0.0.1:8000/ready" in post
    assert unit_values(unit, "TimeoutStartSec") == ["190"]


def readiness_script(unit: str) -> str:
    """The shell script of ExecStartPost as systemd hands it to /bin/sh (continuations joined, $$ -> $)."""
    line = re.search(r"^ExecStartPost=((?:.*\\\n)*.*)$", unit, re.M).group(1).replace("\\\n", " ")
    assert line.startswith("/bin/sh -c '") and line.endswith("'"), line
    return line.removeprefix("/bin/sh -c '").removesuffix("'").replace("$$", "$")


def test_readiness_wait_ends_when_the_main_process_is_gone_and_succeeds_on_ready(tmp_path: Path, server) -> None:
    """systemd waits for ExecStartPost even after the main process died: the wait must notice, or every
    failed start lasts the whole ready timeout and a crash loop never reaches the start limit."""
    import subprocess
    import sys
    import time

    unit = render(tmp_path, datavisor_port=server.port)["datavisor.service"]
    script = readiness_script(unit)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    started = time.monotonic()
    gone = subprocess.run(["/bin/sh", "-c", script], env={"MAINPID": str(dead.pid)}, timeout=60)
    assert gone.returncode == 1 and time.monotonic() - started < 10
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ready = subprocess.run(["/bin/sh", "-c", script], env={"MAINPID": str(alive.pid)}, timeout=60)
    finally:
        alive.kill()
        alive.wait()
    assert ready.returncode == 0


def test_resources_come_from_the_inventory_and_duckdb_stays_below(tmp_path: Path) -> None:
    rendered = render(tmp_path, datavisor_memory_max="3G", datavisor_cpu_quota="150%", datavisor_tasks_max=256)
    unit, env = rendered["datavisor.service"], env_file(rendered["datavisor.env"])
    assert (unit_values(unit, "MemoryMax"), unit_values(unit, "CPUQuota"), unit_values(unit, "TasksMax")) == (
        ["3G"],
        ["150%"],
        ["256"],
    )
    assert env["DATAVISOR_DUCKDB_MEMORY_LIMIT"] == "1536MiB"  # 50 % of 3 GiB
    (tmp_path / "b").mkdir()
    explicit = env_file(render(tmp_path / "b", datavisor_duckdb_memory_limit="2GB")["datavisor.env"])
    assert explicit["DATAVISOR_DUCKDB_MEMORY_LIMIT"] == "2GB"


def test_container_unit_stops_gracefully_logs_to_journald_and_limits(tmp_path: Path) -> None:
    unit = render(
        tmp_path,
        ("datavisor-container.service",),
        datavisor_runtime="container",
        __datavisor_uid="990",
        __datavisor_gid="990",
    )["datavisor-container.service"]
    pre = unit_values(unit, "ExecStartPre")
    assert pre == ["-/usr/bin/docker stop --time 50 datavisor", "-/usr/bin/docker rm datavisor"]
    run = exec_start(unit)
    for flag in ("--log-driver journald", "--memory 4G", "--memory-swap 4G", "--cpus 2.00", "--pids-limit 512"):
        assert flag in run, flag
    # the release release.env names (a tag of the role, so a rollback points it back), and the image's own CMD
    assert unit_values(unit, "EnvironmentFile") == ["/opt/datavisor/release.env"]
    assert run.endswith(" ${DATAVISOR_RELEASE_IMAGE}"), "the image's CMD (datavisor serve) must run, no command"
    assert "uvicorn" not in run
    assert "\nNoNewPrivileges=yes\n" in unit and "\nProtectSystem=strict\n" in unit
    assert unit_values(unit, "TimeoutStartSec") == ["240"]  # ready 180 + docker stop 50 + 10


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
    host = "127.0.0.1" if behind_proxy else "0.0.0.0"
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
    # What `datavisor serve` hands uvicorn from that file.
    options = uvicorn_options(settings)
    assert (options["host"], options["port"], options["workers"]) == (host, 8000, 1)
    assert options["timeout_graceful_shutdown"] == 30
    assert options["proxy_headers"] is behind_proxy
    assert options["forwarded_allow_ips"] == (["127.0.0.1"] if behind_proxy else [])


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


def test_the_roles_idea_of_the_apps_stop_waits_is_the_code(tmp_path: Path) -> None:
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    jobs_wait = JobManager.shutdown.__defaults__[0]  # type: ignore[index]
    assert (
        role_vars["__datavisor_app_stop_waits"]
        == jobs_wait + db.SETTLE_SECONDS + db.INTERRUPT_SECONDS + main.JOB_JOIN_SECONDS
    )


def test_preflight_refuses_a_checkpoint_budget_below_the_apps_waits(tmp_path: Path) -> None:
    tasks = [{"ansible.builtin.include_role": {"name": "datavisor", "tasks_from": "preflight"}}]
    result = run_playbook(tmp_path, tasks, {"datavisor_checkpoint_budget": 20})
    assert result.returncode != 0
    assert "datavisor_checkpoint_budget=20 s is less than what the app waits after the drain (23 s" in result.stdout


@pytest.mark.parametrize("tag", ["datavisor_configure", "datavisor_install", "datavisor_service", "datavisor_backup"])
def test_preflight_runs_under_every_tag(tmp_path: Path, tag: str) -> None:
    # The whole role with only one phase's tag: its preflight must still refuse the input before the phase runs.
    # In check mode and with paths under tmp_path, so a regression cannot touch the machine running the tests.
    tasks = [{"ansible.builtin.include_role": {"name": "datavisor"}, "tags": [tag]}]
    paths = {
        f"datavisor_{name}": str(tmp_path / name) for name in ("state_dir", "config_dir", "install_dir", "backup_dir")
    }
    result = run_playbook(tmp_path, tasks, {"datavisor_checkpoint_budget": 20, **paths}, ("--check", "--tags", tag))
    assert result.returncode != 0
    assert "datavisor_checkpoint_budget=20 s is less than what the app waits" in result.stdout


def test_preflight_refuses_a_duckdb_limit_not_below_memory_max(tmp_path: Path) -> None:
    tasks = [{"ansible.builtin.include_role": {"name": "datavisor", "tasks_from": "preflight"}}]
    result = run_playbook(tmp_path, tasks, {"datavisor_memory_max": "2G", "datavisor_duckdb_memory_limit": "3GB"})
    assert result.returncode != 0
    assert "DuckDB's memory_limit 3GB must be a size like 2GB and below MemoryMax=2G" in result.stdout


def test_health_gate_passes_on_the_deployed_version_only(server) -> None:
    """files/wait_ready.py, the role's health gate: 0 once /ready reports the version deployed, 2 on the
    timeout while another version answers 200 (its giving up on a failed unit is proven by scenario lifecycle)."""
    import json
    import subprocess
    import sys

    from app import __version__

    gate = [sys.executable, str(ROLE / "files" / "wait_ready.py"), server.url.rstrip("/")]
    ready = subprocess.run([*gate, __version__, "5", "datavisor-test.service"], capture_output=True, text=True)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert json.loads(ready.stdout)["json"]["version"] == __version__
    other = subprocess.run(
        [*gate, __version__ + ".other", "1", "datavisor-test.service"], capture_output=True, text=True
    )
    assert other.returncode == 2, other.stdout + other.stderr
    assert json.loads(other.stdout)["status"] == 200
