"""Shutdown is sacred: a real `datavisor serve` process, real DuckDB file, real signals.

SIGTERM after writes -> exit 0 within the stop budget, CHECKPOINT logged, no WAL left, everything readable
by a fresh process. SIGKILL after a committed write -> the next start replays the WAL. A SIGTERM that lands
in the middle of an import job or with an event stream open still checkpoints cleanly and loses nothing
that was acknowledged.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from bench.make_coco import make as make_coco
from tests.support.datasets import import_dataset, wait_job
from tests.support.server import Server

GRACEFUL = 5
# What the systemd unit and `docker stop -t` grant: graceful drain + checkpoint budget + margin.
STOP_BUDGET = GRACEFUL + 30


def write_coco(server: Server, name: str, images: int, boxes: int, seed: int = 0) -> Path:
    path = server.state_dir / "datasets" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_coco(images, boxes, seed)))
    return path


def import_and_wait(client: httpx.Client, server: Server, name: str, images: int, boxes: int) -> int:
    # bench.make_coco writes no image files: an annotations-only import
    job = import_dataset(client, name, write_coco(server, name, images, boxes), fmt="coco", annotations_only=True)
    assert job["state"] == "succeeded", job
    return job["dataset_id"]


def snapshot(client: httpx.Client) -> dict:
    """What a user can see: every dataset with its counts and its first page of samples with tags."""
    out = {}
    for dataset in client.get("/datasets").json():
        detail = client.get(f"/datasets/{dataset['id']}").json()
        page = client.get(f"/datasets/{dataset['id']}/samples", params={"limit": 50}).json()
        out[dataset["name"]] = {"detail": detail, "page": page}
    return out


def stop_and_check_clean(server: Server) -> float:
    started = time.monotonic()
    code = server.stop(signal.SIGTERM, timeout=STOP_BUDGET)
    elapsed = time.monotonic() - started
    log = server.log()
    assert code == 0, log
    assert "checkpoint completed in" in log, log
    assert not Path(str(server.db_path) + ".wal").exists(), "WAL left beside the database after a clean stop"
    return elapsed


def test_sigterm_after_writes_checkpoints_and_a_fresh_process_reads_everything(server_factory) -> None:
    srv = server_factory(graceful_shutdown_timeout=GRACEFUL)
    with srv.start().client() as client:
        first = import_and_wait(client, srv, "first", 40, 200)
        import_and_wait(client, srv, "second", 25, 60)
        ids = [s["id"] for s in client.get(f"/datasets/{first}/samples", params={"limit": 10}).json()["items"]]
        tagged = client.post(f"/datasets/{first}/tags", json={"sample_ids": ids, "add": ["keep"], "remove": []})
        assert tagged.status_code == 200, tagged.text
        before = snapshot(client)
    assert Path(str(srv.db_path) + ".wal").exists(), "writes should sit in the WAL before the stop"
    assert set(before) == {"first", "second"}

    stop_and_check_clean(srv)

    again = server_factory(state_dir=srv.state_dir, graceful_shutdown_timeout=GRACEFUL)
    with again.start().client() as client:
        assert snapshot(client) == before
        assert "replayed write-ahead log" not in again.log()
        assert client.get("/ready").json()["schema_version"] >= 2


def test_sigkill_after_a_committed_write_replays_the_wal(server_factory) -> None:
    srv = server_factory()
    with srv.start().client() as client:
        import_and_wait(client, srv, "committed", 30, 90)
        before = snapshot(client)
    wal = Path(str(srv.db_path) + ".wal")
    assert wal.exists() and wal.stat().st_size > 0
    assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
    assert "checkpoint completed" not in srv.log()

    again = server_factory(state_dir=srv.state_dir)
    with again.start().client() as client:
        assert "replayed write-ahead log" in again.log()
        assert snapshot(client) == before


def edit_everything(client: httpx.Client, dataset_id: int) -> dict:
    """One acknowledged edit of each kind (update, delete, create, verdict, review, undo); what they left."""
    items = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 10}).json()["items"]
    boxed = [s for s in items if s["annotation_count"] >= 2]
    sid = boxed[0]["id"]
    other = next(s["id"] for s in items if s["id"] != sid)
    a, b = [x for x in client.get(f"/samples/{sid}").json()["annotations"] if x["source"] == "ground_truth"][:2]
    for method, path, kwargs in (
        ("PATCH", f"/annotations/{a['id']}", {"json": {"version": a["version"], "bbox": [1, 2, 3, 4]}}),
        ("DELETE", f"/annotations/{b['id']}", {"params": {"version": b["version"]}}),
        ("POST", f"/samples/{sid}/annotations", {"json": {"bbox": [5, 5, 6, 6], "category": a["category"]}}),
        ("PUT", f"/annotations/{a['id']}/verdict", {"json": {"verdict": "wrong_label"}}),
        ("PUT", f"/samples/{sid}/review", {"json": {"status": "reviewed"}}),
        ("PUT", f"/samples/{other}/review", {"json": {"status": "needs_fix"}}),
        ("POST", f"/datasets/{dataset_id}/undo", {}),
    ):
        r = client.request(method, path, **kwargs)
        assert r.status_code in (200, 201), (method, path, r.text)
    return {
        "sample": client.get(f"/samples/{sid}").json(),
        "history": client.get(f"/datasets/{dataset_id}/history", params={"limit": 100}).json(),
        "other": client.get(f"/samples/{other}").json()["review_status"],
    }


def test_acknowledged_edits_survive_sigkill_and_sigterm(server_factory) -> None:
    """Every acknowledged edit (and its history entry) is in the database file after kill -9 and after a
    clean stop: the next process shows exactly the same sample, history and undo stack."""
    srv = server_factory(graceful_shutdown_timeout=GRACEFUL)
    with srv.start().client() as client:
        ds = import_and_wait(client, srv, "edited", 20, 80)
        edited = edit_everything(client, ds)
    assert edited["other"] == "unreviewed"  # the undo took the last review back
    assert edited["sample"]["review_status"] == "reviewed"
    assert [x["bbox"] for x in edited["sample"]["annotations"] if x["source"] == "ground_truth"][0] == [1, 2, 3, 4]
    assert edited["history"]["total"] == 7
    assert srv.stop(signal.SIGKILL) == -signal.SIGKILL

    again = server_factory(state_dir=srv.state_dir, graceful_shutdown_timeout=GRACEFUL)
    with again.start().client() as client:
        assert "replayed write-ahead log" in again.log()
        sid = edited["sample"]["id"]
        assert client.get(f"/samples/{sid}").json() == edited["sample"]
        assert client.get(f"/datasets/{ds}/history", params={"limit": 100}).json() == edited["history"]
        # the undo stack survived too: redo re-applies the review the undo took back
        r = client.post(f"/datasets/{ds}/redo")
        assert r.status_code == 200 and r.json()["applied"]["action"] == "review", r.text
        after_redo = client.get(f"/datasets/{ds}/history", params={"limit": 100}).json()
    stop_and_check_clean(again)

    third = server_factory(state_dir=srv.state_dir, graceful_shutdown_timeout=GRACEFUL)
    with third.start().client() as client:
        assert client.get(f"/datasets/{ds}/history", params={"limit": 100}).json() == after_redo
        items = client.get(f"/datasets/{ds}/samples", params={"review_status": "needs_fix"}).json()["items"]
        assert len(items) == 1


SLOW_PLUGIN = """
import time
from app.plugins import BasePlugin

class Slow(BasePlugin):
    name = "slow"
    def on_sample_ingested(self, ctx, sample):
        time.sleep(0.005)  # keeps an import of a few thousand samples running for several seconds
        return sample

plugin = Slow()
"""


def test_sigterm_during_an_import_with_an_open_event_stream(server_factory, tmp_path) -> None:
    """The stop cancels the running job, ends the event stream, checkpoints; the half import leaves nothing."""
    plugins = tmp_path / "plugins" / "slow"
    plugins.mkdir(parents=True)
    (plugins / "__init__.py").write_text(SLOW_PLUGIN)
    srv = server_factory(graceful_shutdown_timeout=GRACEFUL, plugin_dir=str(plugins.parent))
    with srv.start().client() as client:
        import_and_wait(client, srv, "kept", 20, 40)
        # DELETE while the import runs: the cancelled import removes its half dataset itself, after which
        # the delete answered 404 "not found" although it had done what was asked
        doomed = write_coco(srv, "doomed", 2_000, 2_000, seed=3)
        body = {"name": "doomed", "format": "coco", "path": str(doomed), "annotations_only": True}
        accepted = client.post("/datasets", json=body).json()
        wait_job(client, accepted["job_id"], states=frozenset({"running"}))
        response = client.delete(f"/datasets/{accepted['dataset_id']}")
        assert response.status_code == 204, response.text
        assert wait_job(client, accepted["job_id"])["state"] == "cancelled"
        assert client.get(f"/datasets/{accepted['dataset_id']}").status_code == 404
        before = snapshot(client)
        big = write_coco(srv, "big", 6_000, 30_000, seed=7)
        body = {"name": "big", "format": "coco", "path": str(big), "annotations_only": True}
        accepted = client.post("/datasets", json=body)
        assert accepted.status_code == 202, accepted.text
        accepted = accepted.json()
        wait_job(client, accepted["job_id"], states=frozenset({"running"}))

        events: list[str] = []
        stream_ended = threading.Event()

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{srv.api}/jobs/{accepted['job_id']}/events", timeout=60) as response:
                    for line in response.iter_lines():
                        events.append(line)
            except httpx.HTTPError:
                pass
            stream_ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        deadline = time.monotonic() + 20
        while sum(line.startswith("event: progress") for line in events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(line.startswith("event: progress") for line in events) >= 2, events
        assert client.get(f"/jobs/{accepted['job_id']}").json()["state"] == "running"

        stop_and_check_clean(srv)
        assert stream_ended.wait(10), "the event stream did not end when the server stopped"
        assert not any(line.startswith("event: end") and '"succeeded"' in line for line in events)

    again = server_factory(state_dir=srv.state_dir, graceful_shutdown_timeout=GRACEFUL)
    with again.start().client() as client:
        assert snapshot(client) == before, "a half-finished import must leave no dataset behind"
        job = client.get(f"/jobs/{accepted['job_id']}").json()
        assert job["state"] in {"failed", "cancelled"}, job
