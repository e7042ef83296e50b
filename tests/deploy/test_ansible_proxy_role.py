"""The reverse-proxy role (ansible/roles/datavisor_proxy), run with Ansible itself on localhost.

- meta/argument_specs.yml types the same variables defaults/main.yml documents;
- preflight refuses behind_proxy without credentials, plain passwords, half a certificate and a backend
  reachable around the proxy, with messages that never repeat a hash or password, and accepts a sound set;
- the Caddyfile renders what the role promises (TLS choice, limits, unbuffered streaming, auth import).
Caddy on real systemd, with real traffic, is proven by `make molecule-proxy` (ansible/molecule/proxy).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ansible import run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "ansible" / "roles" / "datavisor_proxy"

HASH = "$2y$10$Nyahrb4dykudjQFGPipqRenHJJGiDwyrC48zXGniq6k5jwFvksrL."
GOOD = {
    "datavisor_behind_proxy": True,
    "datavisor_proxy_users": [{"name": "alice", "password_hash": HASH}],
}


def preflight(tmp_path: Path, **overrides: object) -> subprocess.CompletedProcess:
    # The host checks read ansible_facts; give them a Debian host with systemd instead of gathering.
    tasks = [
        {"ansible.builtin.set_fact": {"ansible_facts": {"service_mgr": "systemd", "os_family": "Debian"}}},
        {"ansible.builtin.include_role": {"name": "datavisor_proxy", "tasks_from": "preflight"}},
    ]
    return run_playbook(tmp_path, tasks, {**GOOD, **overrides})


def test_argument_specs_list_the_defaults() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert set(specs["main"]["options"]) == set(defaults)
    assert set(specs["preflight"]["options"]) == set(defaults)


def test_preflight_accepts_a_sound_inventory(tmp_path: Path) -> None:
    result = preflight(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_behind_proxy_without_users_is_refused(tmp_path: Path) -> None:
    result = preflight(tmp_path, datavisor_proxy_users=[])
    assert result.returncode != 0
    assert "datavisor_proxy_users is empty" in result.stdout
    assert "caddy hash-password" in result.stdout


def test_without_proxy_no_users_are_needed(tmp_path: Path) -> None:
    result = preflight(tmp_path, datavisor_behind_proxy=False, datavisor_proxy_users=[])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "users, named",
    [
        ([{"name": "alice", "password_hash": "correct horse battery staple"}], "alice"),
        ([{"name": "bob", "password_hash": HASH[:-1]}], "bob"),
        ([{"name": "carol", "password_hash": "$1$abcdefgh$0123456789012345678901"}], "carol"),
        ([{"name": "a:b", "password_hash": HASH}], "a:b"),
    ],
)
def test_plain_passwords_and_bad_names_are_refused_without_echoing_them(
    tmp_path: Path, users: list[dict], named: str
) -> None:
    result = preflight(tmp_path, datavisor_proxy_users=users)
    assert result.returncode != 0
    assert "bcrypt" in result.stdout and named in result.stdout
    assert users[0]["password_hash"] not in result.stdout


def test_duplicate_users_are_refused(tmp_path: Path) -> None:
    users = [{"name": "alice", "password_hash": HASH}, {"name": "alice", "password_hash": HASH}]
    assert preflight(tmp_path, datavisor_proxy_users=users).returncode != 0


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    result = preflight(tmp_path, datavisor_proxy_tls_certificate=cert)
    assert result.returncode != 0
    assert "or neither" in result.stdout


def test_backend_reachable_around_the_proxy_is_refused(tmp_path: Path) -> None:
    result = preflight(
        tmp_path, datavisor_behind_proxy=False, datavisor_proxy_enabled=True, datavisor_bind_address="0.0.0.0"
    )
    assert result.returncode != 0
    assert "skip the proxy" in result.stdout


def render_caddyfile(tmp_path: Path, **overrides: object) -> str:
    out = tmp_path / "Caddyfile"
    tasks = [
        {"ansible.builtin.include_vars": {"file": str(ROLE / "defaults" / "main.yml")}},
        {"ansible.builtin.include_vars": {"file": str(ROLE / "vars" / "main.yml")}},
        {
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / "Caddyfile.j2"),
                "dest": str(out),
                "mode": "0644",
            }
        },
    ]
    result = run_playbook(tmp_path, tasks, {**GOOD, "inventory_hostname": "dv.example.org", **overrides})
    assert result.returncode == 0, result.stdout + result.stderr
    return out.read_text()


def test_caddyfile_defaults(tmp_path: Path) -> None:
    text = render_caddyfile(tmp_path)
    assert "tls internal" in text and "skip_install_trust" in text
    assert "https://dv.example.org:443, https://:443 {" in text
    assert "redir https://{host}{uri} 308" in text
    assert "reverse_proxy 127.0.0.1:8000 {" in text
    assert "flush_interval -1" in text
    assert "header_up -Authorization" in text
    # the edit history's user: Caddy names the authenticated user, and a client-sent copy never gets through
    assert "header_up X-DataVisor-User {http.auth.user.id}" in text
    assert "request_header -X-DataVisor-User" in text
    assert "max_size 1073741824" in text and "> 1073741824`" in text
    assert "import /etc/caddy/datavisor-users.caddy" in text
    assert "admin unix//run/caddy/admin.sock" in text
    assert HASH not in text  # the hashes live in the users file only
    # every path goes to the backend (the API under /api/, the browser app elsewhere), none is answered here
    assert "handle /api/* {" not in text and "Not found" not in text
    # Caddy's policy is only a default: the app's own CSP (which has frame-ancestors 'none') is kept alone
    assert "?Content-Security-Policy \"frame-ancestors 'none'\"" in text
    assert "\tContent-Security-Policy \"frame-ancestors 'none'\"" in text.split("handle_errors {")[1]


def test_caddyfile_with_inventory_certificate_and_ports(tmp_path: Path) -> None:
    text = render_caddyfile(
        tmp_path,
        datavisor_proxy_tls_certificate="-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
        datavisor_proxy_tls_private_key="-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----",
        datavisor_proxy_https_port=8443,
        datavisor_port=9000,
    )
    assert "tls /etc/caddy/tls/datavisor.crt /etc/caddy/tls/datavisor.key" in text
    assert "tls internal" not in text and "skip_install_trust" not in text
    assert "redir https://{host}:8443{uri} 308" in text
    assert "reverse_proxy 127.0.0.1:9000 {" in text
