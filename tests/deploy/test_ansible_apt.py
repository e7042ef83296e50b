"""apt without a forced cache refresh (issue 13): an air-gapped host whose packages are installed deploys even
when its apt lists are old. Every apt install task of both roles refreshes the cache only when a package is
missing; the shared pattern (roles/datavisor/tasks/apt.yml) runs here on localhost, in check mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.ansible import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "ansible" / "roles"


def apt_installs() -> list[tuple[Path, dict]]:
    found = []

    def walk(path: Path, tasks: list) -> None:
        for task in tasks or []:
            if not isinstance(task, dict):
                continue
            for key in ("block", "rescue", "always"):
                walk(path, task.get(key))
            module = task.get("ansible.builtin.apt")
            if isinstance(module, dict) and module.get("state", "present") == "present":
                found.append((path, module))

    for path in sorted(ROLES.glob("*/tasks/**/*.yml")):
        walk(path, yaml.safe_load(path.read_text()))
    return found


def test_no_apt_task_forces_a_cache_refresh() -> None:
    # A literal update_cache: true refreshes always; a literal cache_valid_time refreshes whenever the lists are
    # older than it, whatever update_cache says (the apt module: "if explicitly set, this sets update_cache=yes").
    installs = apt_installs()
    assert len(installs) >= 2  # the datavisor role's shared apt.yml and the proxy role's Caddy
    for path, module in installs:
        for option in ("update_cache", "cache_valid_time"):
            value = module.get(option, 0)
            assert value in (0, False) or (isinstance(value, str) and "{{" in value), (
                f"{path.relative_to(ROOT)}: {option}={value!r} refreshes the apt cache even when every package is "
                "installed (an air-gapped host fails once its lists are old)"
            )


@pytest.mark.parametrize(
    ("role", "tasks_from", "packages_var"),
    [("datavisor", "apt", "__datavisor_apt_packages"), ("datavisor_proxy", "install", "datavisor_proxy_packages")],
)
def test_installed_packages_need_no_cache(tmp_path: Path, role: str, tasks_from: str, packages_var: str) -> None:
    # Packages this machine has; its apt lists may be of any age. Check mode: nothing is installed or fetched,
    # and the apt module says whether it would have refreshed the cache.
    tasks = [
        {
            "ansible.builtin.include_role": {"name": role, "tasks_from": tasks_from},
            "vars": {packages_var: ["coreutils", "bash"]},
        }
    ]
    result = run_playbook(tmp_path, tasks, None, ("--check", "-v"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout
    assert '"cache_updated": false' in result.stdout, result.stdout
