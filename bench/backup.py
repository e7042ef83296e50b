"""Seconds for `datavisor backup` at 100K and 1M samples, and what readers see while it runs.

    .venv/bin/python bench/backup.py [--samples 100000 1000000] [--boxes-per-image 3]

For each size a server (`datavisor serve`) imports a synthetic COCO file, then `datavisor backup` runs
(the CLI the systemd timer runs) while a reader thread pages through samples. Printed per size: backup
wall time as the CLI sees it, the server's own split (checkpoint, writers paused, total), the file size,
and reader latency (median / max) during the backup against an idle baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_coco import make as make_coco  # noqa: E402
from tests.support.server import Server  # noqa: E402


def import_coco(server: Server, path: Path, name: str) -> float:
    started = time.monotonic()
    with server.client(timeout=600) as client:
        body = {"name": name, "format": "coco", "path": str(path), "annotations_only": True}  # no image files
        accepted = client.post("/datasets", json=body)
        accepted.raise_for_status()
        body = accepted.json()
        while (job := client.get(f"/jobs/{body['job_id']}").json())["state"] not in ("succeeded", "failed"):
            time.sleep(0.5)
    if job["state"] != "succeeded":
        raise SystemExit(f"import failed: {job}")
    server.dataset_id = body["dataset_id"]
    return time.monotonic() - started


def read_latencies(server: Server, stop: threading.Event, out: list[float]) -> None:
    with server.client(timeout=60) as client:
        offset = 0
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"/datasets/{server.dataset_id}/samples", params={"offset": offset, "limit": 50})
            out.append(time.perf_counter() - started)
            offset = (offset + 5_000) % 50_000


def measure(tmp: Path, samples: int, boxes_per_image: int, chunk: int) -> None:
    server = Server(tmp / f"n{samples}")
    data = server.state_dir / "datasets"
    data.mkdir(parents=True)
    # Large sizes are imported as several datasets of `chunk` samples: one 1M-image COCO file needs more
    # memory to parse than this shared machine has to spare; the database holds the same rows either way.
    per_file = min(samples, chunk)
    coco = data / f"coco-{per_file}.json"
    coco.write_text(json.dumps(make_coco(per_file, per_file * boxes_per_image, seed=1)))
    server.start()
    try:
        imported = sum(import_coco(server, coco, f"part-{i}") for i in range(-(-samples // per_file)))
        baseline: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=read_latencies, args=(server, stop, baseline))
        reader.start()
        time.sleep(3)
        stop.set()
        reader.join()

        during: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=read_latencies, args=(server, stop, during))
        reader.start()
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "backup"], cwd=ROOT, env=server.env, capture_output=True, text=True
        )
        wall = time.monotonic() - started
        stop.set()
        reader.join()
        if result.returncode != 0:
            raise SystemExit(f"backup failed: {result.stderr}")
        reply = json.loads(result.stdout)
        print(
            f"{samples:>9,} samples ({samples * boxes_per_image:,} boxes, import {imported:.0f} s): "
            f"backup {wall:.2f} s wall (server {reply['seconds']:.2f} s: checkpoint "
            f"{reply['checkpoint_seconds']:.2f} s, writers paused {reply['writers_paused_seconds']:.2f} s), "
            f"{reply['bytes'] / 1e6:.0f} MB; readers during backup median "
            f"{statistics.median(during) * 1000:.0f} ms / max {max(during) * 1000:.0f} ms "
            f"({len(during)} reads) vs idle median {statistics.median(baseline) * 1000:.0f} ms / "
            f"max {max(baseline) * 1000:.0f} ms",
            flush=True,
        )
    except Exception:
        print(f"server log tail:\n{server.log()[-3000:]}", file=sys.stderr)
        raise
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop(timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--boxes-per-image", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=250_000, help="samples per imported dataset")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="datavisor-backup-bench-") as tmp:
        for samples in args.samples:
            measure(Path(tmp), samples, args.boxes_per_image, args.chunk)


if __name__ == "__main__":
    main()
