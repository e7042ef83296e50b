"""`datavisor backup` against a real server: acknowledged writes are in the backup, retention, atomic
names, a clear error when no server runs, and a restore (replace the file, drop the WAL) that serves them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support.datasets import import_dataset, make_coco
from tests.support.server import ROOT, Server


def run_backup(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI exactly as the systemd backup service runs it, with the server's settings."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "backup", *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    found = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("datasets", "samples", "annotations", "views")
    }
    found["checked"] = conn.execute("SELECT count(*) FROM sample_tags WHERE tag = 'checked'").fetchone()[0]
    return found


@pytest.fixture
def loaded(server_factory, tmp_path: Path) -> Server:
    """A server whose acknowledged writes all sit in the WAL (automatic checkpoint raised to 1GB)."""
    server = server_factory(duckdb_checkpoint_threshold="1GB")
    data = server.state_dir / "datasets"
    make_coco(data / "coco", n_images=6)
    server.start()
    with server.client() as client:
        job = import_dataset(client, "first", data / "coco" / "annotations.json")
        assert job["state"] == "succeeded", job
        dataset_id = job["dataset_id"]
        samples = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 2}).json()["items"]
        tagged = client.post(
            f"/datasets/{dataset_id}/tags", json={"sample_ids": [s["id"] for s in samples], "add": ["checked"]}
        )
        assert tagged.status_code == 200, tagged.text
        view = client.post(f"/datasets/{dataset_id}/views", json={"name": "acknowledged", "filters": {}})
        assert view.status_code in (200, 201), view.text
    server.dataset_id = dataset_id
    return server


def test_acknowledged_writes_are_in_the_backup(loaded: Server) -> None:
    wal = Path(str(loaded.db_path) + ".wal")
    assert wal.exists() and wal.stat().st_size > 0, "the writes should still be in the WAL before the backup"

    result = run_backup(loaded)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    backup = Path(reply["path"])
    assert backup.parent == loaded.state_dir / "backups"
    assert backup.name.startswith("datavisor-") and backup.suffix == ".duckdb"
    assert reply["bytes"] == backup.stat().st_size and reply["schema_version"] >= 1
    assert not list(backup.parent.glob(".*.tmp")), "the temporary copy must be renamed, not left behind"
    assert stat.S_IMODE(backup.stat().st_mode) & 0o007 == 0, "backups are not world-readable"

    conn = duckdb.connect(str(backup), read_only=True)
    try:
        found = counts(conn)
        assert conn.execute("SELECT name FROM views").fetchall() == [("acknowledged",)]
    finally:
        conn.close()
    assert found == {"datasets": 1, "samples": 6, "annotations": found["annotations"], "checked": 2, "views": 1}
    assert found["annotations"] > 0
    assert not Path(str(backup) + ".wal").exists(), "a backup is one self-contained file"


def test_restore_replaces_the_file_and_serves_the_backup(loaded: Server) -> None:
    reply = json.loads(run_backup(loaded).stdout)
    with loaded.client() as client:
        assert client.delete(f"/datasets/{loaded.dataset_id}").status_code == 204
        assert client.get("/datasets").json() == []
    assert loaded.stop() == 0
    # restore.yml does exactly this: the service is stopped, the file replaced, any WAL removed.
    os.replace(reply["path"], loaded.db_path)
    Path(str(loaded.db_path) + ".wal").unlink(missing_ok=True)
    loaded.start()
    with loaded.client() as client:
        datasets = client.get("/datasets").json()
        assert [d["name"] for d in datasets] == ["first"]
        assert datasets[0]["counts"]["samples"] == 6
        assert len(client.get(f"/datasets/{loaded.dataset_id}/views").json()) == 1


def test_retention_keeps_the_newest_per_label(server: Server) -> None:
    made = []
    for _ in range(3):
        result = run_backup(server, "--keep", "2")
        assert result.returncode == 0, result.stderr
        made.append(json.loads(result.stdout))
    labelled = json.loads(run_backup(server, "--label", "pre-upgrade", "--keep", "1").stdout)
    assert made[2]["pruned"] == [made[0]["path"]]
    names = sorted(p.name for p in (server.state_dir / "backups").iterdir())
    assert names == sorted([Path(made[1]["path"]).name, Path(made[2]["path"]).name, Path(labelled["path"]).name])
    assert labelled["path"].endswith("-pre-upgrade.duckdb") and labelled["pruned"] == []


def test_custom_destination_and_bad_input(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "elsewhere" / "nightly"
    result = run_backup(server, "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)["path"]).parent == dest

    bad_label = run_backup(server, "--label", "../../etc")
    assert bad_label.returncode == 1 and "backup label '../../etc'" in bad_label.stderr
    state_dir = run_backup(server, "--dest", str(server.state_dir))
    assert state_dir.returncode == 1 and "state directory itself" in state_dir.stderr
    keep = run_backup(server, "--keep", "0")
    assert keep.returncode == 2 and "--keep must be at least 1" in keep.stderr


def test_control_socket_is_private(server: Server) -> None:
    sock = server.state_dir / "control.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert server.stop() == 0
    assert not sock.exists(), "a clean stop removes the socket"


def test_no_server_running_is_a_clear_error(server_factory) -> None:
    idle = server_factory()
    result = run_backup(idle)
    assert result.returncode == 3
    assert "no DataVisor server is running" in result.stderr and "control.sock" in result.stderr
    assert result.stdout == ""


def test_backup_after_a_restart_and_an_import(server_factory) -> None:
    """A restarted server that imported once must still back up (the import's job left no write open)."""
    server = server_factory()
    data = server.state_dir / "datasets"
    make_coco(data / "one", n_images=3)
    make_coco(data / "two", n_images=2)
    server.start()
    with server.client() as client:
        assert import_dataset(client, "one", data / "one" / "annotations.json")["state"] == "succeeded"
    assert server.stop() == 0
    server.start()
    with server.client() as client:
        assert import_dataset(client, "two", data / "two" / "annotations.json")["state"] == "succeeded"
    for _ in range(2):
        result = run_backup(server)
        assert result.returncode == 0, result.stderr
    conn = duckdb.connect(json.loads(result.stdout)["path"], read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 5
    finally:
        conn.close()
