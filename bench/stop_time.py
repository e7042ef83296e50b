"""Seconds from SIGTERM to exit: an idle server, and one holding ~300 MB of un-checkpointed WAL.

    .venv/bin/python bench/stop_time.py [--wal-mb 300]

Both servers run as `datavisor serve` (the way `make run` and the unit start it). For the second, the
automatic checkpoint is raised (DATAVISOR_DUCKDB_CHECKPOINT_THRESHOLD=8GB) and COCO datasets of
~100K boxes each are imported until the WAL holds the requested size; DuckDB writes such imports into
the WAL, so the CHECKPOINT at shutdown has to fold all of it into the database file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_coco import make as make_coco  # noqa: E402
from tests.support.server import Server  # noqa: E402


def timed_stop(server: Server) -> float:
    started = time.monotonic()
    code = server.stop(signal.SIGTERM, timeout=600)
    elapsed = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"server exited with {code}:\n{server.log()[-2000:]}")
    wal = Path(str(server.db_path) + ".wal")
    if wal.exists():
        raise SystemExit(f"WAL still present after stop: {wal} ({wal.stat().st_size} bytes)")
    return elapsed


def checkpoint_seconds(log: str) -> str:
    lines = [line for line in log.splitlines() if "checkpoint completed in" in line]
    return lines[-1].rsplit("in ", 1)[-1] if lines else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wal-mb", type=float, default=300.0)
    parser.add_argument("--max-imports", type=int, default=80)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="datavisor-stop-") as tmp:
        idle = Server(Path(tmp) / "idle").start()
        print(f"idle server: SIGTERM -> exit in {timed_stop(idle):.2f} s (checkpoint {checkpoint_seconds(idle.log())})")

        busy = Server(Path(tmp) / "busy", duckdb_checkpoint_threshold="8GB")
        data = busy.state_dir / "datasets"
        data.mkdir(parents=True)
        coco = data / "chunk.json"
        coco.write_text(json.dumps(make_coco(10_000, 100_000, seed=1)))
        wal = Path(str(busy.db_path) + ".wal")
        busy.start()
        with busy.client(timeout=300) as client:
            imports = 0
            while (not wal.exists() or wal.stat().st_size < args.wal_mb * 1e6) and imports < args.max_imports:
                accepted = client.post(
                    "/datasets",
                    json={"name": f"chunk-{imports}", "format": "coco", "path": str(coco), "annotations_only": True},
                )
                accepted.raise_for_status()
                while (job := client.get(f"/jobs/{accepted.json()['job_id']}").json())["state"] not in (
                    "succeeded",
                    "failed",
                ):
                    time.sleep(0.2)
                if job["state"] != "succeeded":
                    raise SystemExit(f"import failed: {job}")
                imports += 1
        wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
        seconds = timed_stop(busy)
        print(
            f"server with {wal_mb:.0f} MB WAL ({imports} imports of 10K images / 100K boxes): "
            f"SIGTERM -> exit in {seconds:.2f} s (checkpoint {checkpoint_seconds(busy.log())})"
        )


if __name__ == "__main__":
    main()
