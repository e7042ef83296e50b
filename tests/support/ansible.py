"""Run a one-play playbook on localhost with the project's ansible-playbook, for the role tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "ansible" / "roles"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def run_playbook(
    tmp_path: Path, tasks: list[dict], extra_vars: dict | None = None, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    play = {"name": "test", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play]))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "true",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    command = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)]
    if extra_vars:
        command += ["--extra-vars", json.dumps(extra_vars)]
    command += list(args)
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
