"""Benchmark: the embeddings map's projection reply at 100,000 samples, through a real server.

    .venv/bin/python bench/projection.py [--n 100000] [--rounds 20] [--tsne]

Writes a DuckDB file with N synthetic unit vectors (bench/vectors.py, as bench/similarity.py; no model
run), starts `datavisor serve`, then prints for GET /datasets/1/projection:
- the PCA job the app queues at start (these vectors came without an embedding job, which stores the map
  itself): load the vectors, project, store; then the first reply (the stored map read back) and the
  cached reply p50/p95, end to end over loopback, for `format=binary` (what the app fetches) and the columnar JSON;
- the reply sizes, and the colours reply (`/projection/colors?by=category`) time and size;
- with --tsne, the t-SNE job's duration.
Targets (issue 15): reply <= 300 ms and <= 2 MB at 100K. The load average is printed: the machine is
shared, wall-clock figures grow with it.
"""

from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import vectors as synth  # noqa: E402
from bench.similarity import build  # noqa: E402
from tests.support.datasets import wait_job  # noqa: E402
from tests.support.server import Server  # noqa: E402


def timed(client, path: str, **params) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.get(path, params=params)
    ms = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, r.text
    return ms, len(r.content)


def pct(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {st.median(ordered):6.1f} ms  p95 {ordered[int(0.95 * (len(ordered) - 1))]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--tsne", action="store_true", help="also time the t-SNE job (minutes at 100K)")
    args = parser.parse_args()
    vectors = synth.realistic(args.n, 1280)
    with tempfile.TemporaryDirectory(prefix="dv-bench-proj-") as tmp:
        state = Path(tmp) / "state"
        (state / "datasets").mkdir(parents=True)
        n = build(state, vectors, with_map=False)
        del vectors
        server = Server(state, torch_threads=2)
        with server, server.client(timeout=1800) as client:
            # the vectors were written without an embedding job, so the app queues the PCA map at start
            t0 = time.perf_counter()
            for job in client.get("/datasets/1/embeddings").json()["jobs"]:
                assert wait_job(client, job["id"], timeout=3600)["state"] == "succeeded"
            print(
                f"the app's PCA job at start (index load + PCA of {n} x 1280, stored): "
                f"{time.perf_counter() - t0:.1f} s   load avg {os.getloadavg()[0]:.1f}"
            )
            ms, size = timed(client, "/datasets/1/projection", format="binary")
            print(f"first projection reply (the stored map, nothing in memory yet): {ms:.0f} ms, {size / 1e6:.2f} MB")
            for fmt in ("binary", "json"):
                times, size = [], 0
                for _ in range(args.rounds):
                    ms, size = timed(client, "/datasets/1/projection", format=fmt)
                    times.append(ms)
                print(
                    f"projection {fmt:6s} at {n}: {pct(times)}  {size / 1e6:.2f} MB   load avg {os.getloadavg()[0]:.1f}"
                )
            times = []
            for _ in range(max(3, args.rounds // 4)):
                ms, size = timed(client, "/datasets/1/projection/colors", by="category")
                times.append(ms)
            print(f"colours by category at {n}: {pct(times)}  {size / 1e6:.2f} MB   load avg {os.getloadavg()[0]:.1f}")
            if args.tsne:
                t0 = time.perf_counter()
                load = os.getloadavg
                job = client.post("/datasets/1/projection", params={"method": "tsne"}).json()["job_id"]
                state_ = wait_job(client, job, timeout=7200)["state"]
                print(f"t-SNE job over {n}: {state_} in {time.perf_counter() - t0:.0f} s; load avg {load()[0]:.1f}")
                ms, size = timed(client, "/datasets/1/projection", method="tsne", format="binary")
                print(f"t-SNE reply: {ms:.0f} ms first, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
