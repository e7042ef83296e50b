"""The role's backup units and lifecycle inputs, rendered and checked with Ansible itself on localhost.

The units on real systemd (timer, service, restore, upgrade, rollback, uninstall) are proven by
`make molecule MOLECULE_SCENARIO=lifecycle` (ansible/molecule/lifecycle).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.ansible import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "ansible" / "roles" / "datavisor"
UNITS = ("datavisor-backup.service", "datavisor-backup.timer", "datavisor.service")


def render(tmp_path: Path, **extra_vars: object) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir()
    tasks = [
        {"ansible.builtin.include_vars": {"file": str(ROLE / "defaults" / "main.yml")}},
        {"ansible.builtin.include_vars": {"file": str(ROLE / "vars" / "main.yml")}},
    ] + [
        {"ansible.builtin.template": {"src": str(ROLE / "templates" / f"{name}.j2"), "dest": str(out / name)}}
        for name in UNITS
    ]
    result = run_playbook(tmp_path, tasks, extra_vars)
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text() for path in out.iterdir()}


def directive(unit: str, name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", unit, re.M)


def test_default_backup_units(tmp_path: Path) -> None:
    units = render(tmp_path)
    service, timer = units["datavisor-backup.service"], units["datavisor-backup.timer"]
    assert directive(service, "ExecStart") == [
        "/opt/datavisor/current/bin/datavisor backup --dest /var/lib/datavisor/backups --keep 7"
    ]
    assert directive(service, "User") == ["datavisor"] and directive(service, "Type") == ["oneshot"]
    assert directive(service, "EnvironmentFile") == ["/etc/datavisor/datavisor.env"]
    # Settings from that root-owned file alone, as the server's unit (no .env from a working directory).
    assert directive(service, "Environment") == ["DATAVISOR_ENV_FILE="]
    assert directive(timer, "OnCalendar") == ["*-*-* 03:15:00"] and directive(timer, "Persistent") == ["true"]
    # Inside the state directory: no extra writable path for the server.
    assert directive(units["datavisor.service"], "ReadWritePaths") == ["/var/lib/datavisor"]


def test_schedule_retention_and_an_outside_directory_from_the_inventory(tmp_path: Path) -> None:
    units = render(
        tmp_path,
        datavisor_backup_schedule="Mon..Fri 22:00",
        datavisor_backup_keep=30,
        datavisor_backup_dir="/srv/backups/datavisor",
    )
    assert directive(units["datavisor-backup.timer"], "OnCalendar") == ["Mon..Fri 22:00"]
    assert directive(units["datavisor-backup.service"], "ExecStart")[0].endswith(
        "--dest /srv/backups/datavisor --keep 30"
    )
    # The server writes the backup, so the hardened unit must be allowed to write there.
    assert directive(units["datavisor.service"], "ReadWritePaths") == ["/var/lib/datavisor /srv/backups/datavisor"]


def test_container_runtime_backs_up_inside_the_container(tmp_path: Path) -> None:
    units = render(tmp_path, datavisor_runtime="container")
    service = units["datavisor-backup.service"]
    assert directive(service, "ExecStart") == [
        "/usr/bin/docker exec datavisor datavisor backup --dest /var/lib/datavisor/backups --keep 7"
    ]
    assert directive(service, "User") == []


def test_preflight_refuses_bad_lifecycle_inputs(tmp_path: Path) -> None:
    tasks = [{"ansible.builtin.include_role": {"name": "datavisor", "tasks_from": "preflight"}}]
    result = run_playbook(
        tmp_path,
        tasks,
        {"datavisor_state": "absent", "datavisor_keep_releases": 0, "datavisor_backup_dir": "/var/lib/datavisor"},
    )
    assert result.returncode != 0
    assert "datavisor_keep_releases" in result.stdout and "other than the state directory itself" in result.stdout
