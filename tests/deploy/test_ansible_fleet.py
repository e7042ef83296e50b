"""deploy.yml's fleet rollout (serial, max_fail_percentage) read from the inventory, on localhost.

The playbook itself runs, byte for byte, with stand-in roles beside it (Ansible looks for roles next to the
playbook first) that only record their batch and fail where told: the play keywords under test are
deploy.yml's own. The real roles on two systemd instances: ansible/molecule/lifecycle (verify.yml, "Host
dv-lc-2 was not touched").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
HOSTS = ["h1", "h2", "h3"]


def rollout(tmp_path: Path, group_vars: dict, *args: str) -> tuple[list[list[str]], subprocess.CompletedProcess]:
    """Run deploy.yml on three local hosts; the batches its 'Deploy DataVisor' play ran, in order."""
    shutil.copy(ROOT / "ansible" / "deploy.yml", tmp_path / "deploy.yml")
    record = tmp_path / "batches"
    stand_in = [
        {
            "ansible.builtin.set_fact": {
                "__datavisor_version": "0",
                "__datavisor_listen_address": "127.0.0.1",
                "datavisor_port": 8000,
                "datavisor_behind_proxy": False,
            }
        },
        {
            "ansible.builtin.lineinfile": {
                "path": str(record),
                "line": "{{ ansible_play_batch | join(',') }}",
                "create": True,
            },
            "delegate_to": "localhost",
            "run_once": True,
        },
        {"ansible.builtin.fail": {"msg": "health gate"}, "when": "inventory_hostname in (fail_on | default([]))"},
    ]
    for role, files in {"datavisor": ["main"], "datavisor_proxy": ["main", "preflight"]}.items():
        tasks = tmp_path / "roles" / role / "tasks"
        tasks.mkdir(parents=True)
        for name in files:
            body = stand_in if (role, name) == ("datavisor", "main") else [{"ansible.builtin.meta": "noop"}]
            (tasks / f"{name}.yml").write_text(yaml.safe_dump(body))
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    hosts = {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable} for h in HOSTS}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"datavisor": {"hosts": hosts}}}}))
    (inventory / "group_vars" / "datavisor.yml").write_text(yaml.safe_dump(group_vars or {"unused": 1}))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_NOCOLOR": "true",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_GATHERING": "explicit",
    }
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(tmp_path / "deploy.yml"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    batches = [line.split(",") for line in record.read_text().splitlines()] if record.exists() else []
    return batches, result


def test_default_is_one_host_then_the_rest(tmp_path: Path) -> None:
    batches, result = rollout(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert batches == [["h1"], ["h2", "h3"]]


def test_serial_comes_from_the_inventory(tmp_path: Path) -> None:
    batches, result = rollout(tmp_path, {"datavisor_serial": [2, "100%"]})
    assert result.returncode == 0, result.stdout + result.stderr
    assert batches == [["h1", "h2"], ["h3"]]


def test_extra_vars_win_over_the_inventory(tmp_path: Path) -> None:
    batches, result = rollout(tmp_path, {"datavisor_serial": [2, "100%"]}, "-e", '{"datavisor_serial": ["100%"]}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert batches == [["h1", "h2", "h3"]]


def test_a_failed_first_host_leaves_the_others_untouched(tmp_path: Path) -> None:
    batches, result = rollout(tmp_path, {}, "-e", '{"fail_on": ["h1"]}')
    assert result.returncode != 0
    assert batches == [["h1"]]


def test_max_fail_percentage_comes_from_the_inventory(tmp_path: Path) -> None:
    # One host of the two in the first batch fails: 50 % is within 50, so the rollout goes on.
    batches, result = rollout(
        tmp_path, {"datavisor_serial": [2, "100%"], "datavisor_max_fail_percentage": 50}, "-e", '{"fail_on": ["h1"]}'
    )
    assert result.returncode != 0  # h1 failed
    assert batches == [["h1", "h2"], ["h3"]]
