"""Similarity benchmark over 100,000 vectors of the default model's dimension (1280), through a real server.

    .venv/bin/python bench/similarity.py [--n 100000] [--dim 1280] [--kind realistic|isotropic] [--rounds 200]

Writes a DuckDB file with one dataset of N samples and N synthetic unit vectors (bench/vectors.py; no
model run), starts `datavisor serve` on it, then prints:
- the first-request index load time (vectors DuckDB -> numpy),
- top-k (`GET /samples/{id}/similar?k=20`) p50/p95: server-side (Server-Timing header: the service
  call) and end to end over loopback,
- the near-duplicate pass (`GET /datasets/{id}/duplicates?threshold=0.95`, uncached): server-side time,
  number of groups, and the server's RSS before/after and peak (VmHWM) to show memory stays bounded.
Targets: top-k p50 <= 30 ms server-side, near-duplicate pass <= 60 s. The load average is printed:
the machine is shared, wall-clock figures grow with it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics as st
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import Database  # noqa: E402
from app.services.embeddings.index import VectorIndex  # noqa: E402
from bench import vectors as synth  # noqa: E402
from tests.support.server import Server  # noqa: E402

MODEL = "efficientnet-lite0"


def rss_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole server process (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timing_ms(response, name: str = "search") -> float:
    for part in response.headers["server-timing"].split(","):
        key, _, value = part.strip().partition(";dur=")
        if key == name:
            return float(value)
    raise KeyError(name)


def pct(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {st.median(ordered):7.2f} ms  p95 {ordered[int(0.95 * (len(ordered) - 1))]:7.2f} ms"


def build(state: Path, vectors: np.ndarray, with_map: bool = True) -> int:
    """Dataset 1 with N samples and their vectors; `with_map`: also the PCA map an embedding job stores
    (without it the app computes the map as a job at start, competing with what is measured)."""
    n, dim = vectors.shape
    db = Database(state / "datavisor.duckdb")
    db.open()
    now = datetime.now()
    with db.write() as cur:
        cur.execute(
            "INSERT INTO datasets (id, name, format, path, status, created_at, updated_at) "
            "VALUES (1, 'bench', 'folders', ?, 'ready', ?, ?)",
            [str(state / "datasets"), now, now],
        )
        ids = np.arange(1, n + 1, dtype=np.int64)
        samples = pa.table(
            {
                "id": ids,
                "dataset_id": np.ones(n, dtype=np.int64),
                "file_name": [f"{i:06d}.jpg" for i in ids],
                "path": [str(state / "datasets" / f"{i:06d}.jpg") for i in ids],
            }
        )
        cur.register("_samples", samples)
        cur.execute("INSERT INTO samples (id, dataset_id, file_name, path) SELECT * FROM _samples")
        cur.execute("UPDATE id_counters SET next_id = ? WHERE name = 'samples'", [n + 1])
        cur.execute("UPDATE id_counters SET next_id = 2 WHERE name = 'datasets'")
        offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
        emb = pa.table(
            {
                "dataset_id": np.ones(n, dtype=np.int64),
                "sample_id": ids,
                "model": [MODEL] * n,
                "dim": np.full(n, dim, dtype=np.int32),
                "vector": pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1))),
                "created_at": pa.array([now] * n, type=pa.timestamp("us")),
            }
        )
        cur.register("_emb", emb)
        cur.execute("INSERT INTO embeddings SELECT * FROM _emb")
        if with_map:
            coords = VectorIndex(ids, vectors, MODEL).projection()
            cur.register("_map", pa.table({"sample_id": ids, "x": coords[:, 0], "y": coords[:, 1]}))
            cur.execute("INSERT INTO projections SELECT 1, ?, 'pca', ?, sample_id, x, y FROM _map", [MODEL, n])
    db.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--kind", choices=["realistic", "isotropic"], default="realistic")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--torch-threads", type=int, default=2)
    args = parser.parse_args()

    started = time.perf_counter()
    vectors = getattr(synth, args.kind)(args.n, args.dim)
    took = time.perf_counter() - started
    print(f"{args.n} x {args.dim} {args.kind} vectors ({synth.describe(vectors)}) in {took:.1f} s")
    with tempfile.TemporaryDirectory(prefix="dv-bench-sim-") as tmp:
        state = Path(tmp) / "state"
        (state / "datasets").mkdir(parents=True)
        started = time.perf_counter()
        n = build(state, vectors)
        del vectors
        print(f"wrote {n} vectors to DuckDB in {time.perf_counter() - started:.1f} s")
        server = Server(state, torch_threads=args.torch_threads)
        with server, server.client(timeout=600) as client:
            pid = server.proc.pid
            print(f"server RSS after start: {rss_mb(pid, 'VmRSS'):.0f} MB")
            started = time.perf_counter()
            first = client.get("/samples/1/similar", params={"k": 20})
            assert first.status_code == 200, first.text
            print(
                f"first query (loads the index from DuckDB): {(time.perf_counter() - started) * 1000:.0f} ms, "
                f"RSS {rss_mb(pid, 'VmRSS'):.0f} MB"
            )
            rng = random.Random(0)
            server_ms, cpu_ms, e2e_ms = [], [], []
            for _ in range(args.rounds):
                sid = rng.randint(1, n)
                t0 = time.perf_counter()
                r = client.get(f"/samples/{sid}/similar", params={"k": 20})
                e2e_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and len(r.json()) == 20
                server_ms.append(timing_ms(r))
                cpu_ms.append(timing_ms(r, "cpu"))
            print(
                f"top-20 over {n}: server-side {pct(server_ms)} (CPU {pct(cpu_ms)})   end to end {pct(e2e_ms)}   "
                f"load avg {os.getloadavg()[0]:.1f}"
            )

            before = rss_mb(pid, "VmRSS")
            cpu0 = cpu_seconds(pid)
            t0 = time.perf_counter()
            r = client.get("/datasets/1/duplicates", params={"threshold": args.threshold})
            wall = time.perf_counter() - t0
            cpu = cpu_seconds(pid) - cpu0
            assert r.status_code == 200, r.text
            body = r.json()
            print(
                f"near-duplicates at {args.threshold} over {n}: server-side {timing_ms(r) / 1000:.1f} s "
                f"(wall {wall:.1f} s; server CPU {cpu:.1f} s over {args.torch_threads} torch threads), "
                f"{len(body['groups'])} groups, "
                f"{sum(g['size'] for g in body['groups'])} samples in groups; RSS {before:.0f} -> "
                f"{rss_mb(pid, 'VmRSS'):.0f} MB, peak {rss_mb(pid, 'VmHWM'):.0f} MB; "
                f"load avg {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
