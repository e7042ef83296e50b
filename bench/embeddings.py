"""Embedding throughput on 640x480 JPEGs (decode included) and server responsiveness during the job.

    .venv/bin/python bench/embeddings.py [--n 480] [--torch-threads 2]

Writes N distinct 640x480 JPEG photos (random crops of scikit-image pictures) into a data root, then:
1. in-process figures for the parts: JPEG decode with draft mode (2 decoder threads), model only
   (batches of 16), both as the job pipelines them;
2. a real server (`DATAVISOR_TORCH_THREADS`): import the folder, `POST /datasets/{id}/embeddings`, the
   job's images/s, and p50/p95 of `GET /health` and a samples page polled while the job runs.
Targets: >= 40 images/s on this 2-core machine; health and sample pages p50 < 100 ms during the job.
The load average is printed: other work on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import Server  # noqa: E402

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "retina", "hubble_deep_field", "immunohistochemistry"]


def write_jpegs(folder: Path, n: int) -> list[Path]:
    from skimage import data

    rng = np.random.default_rng(0)
    sources = [Image.fromarray(getattr(data, name)()[..., :3]) for name in PHOTOS]
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        cw, ch = int(w * rng.uniform(0.5, 0.9)), int(h * rng.uniform(0.5, 0.9))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        path = folder / f"{i:05d}.jpg"
        src.crop((x, y, x + cw, y + ch)).resize((640, 480), Image.BICUBIC).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {st.median(ordered):6.1f} ms  p95 {ordered[int(0.95 * (len(ordered) - 1))]:6.1f} ms (n={len(ordered)})"


def in_process(paths: list[Path], threads: int) -> None:
    import torch

    import app.services.embeddings  # noqa: F401 - sets the OpenMP wait policy before torch loads
    from app.services.embeddings.encoder import Encoder, decode_image
    from app.services.embeddings.service import BATCH

    torch.set_num_threads(threads)
    pool = ThreadPoolExecutor(2)
    started = time.perf_counter()
    images = list(pool.map(decode_image, paths))
    decode_rate = len(paths) / (time.perf_counter() - started)
    encoder = Encoder.default("auto")
    encoder.embed(np.stack(images[:BATCH]))  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(images), BATCH):
        encoder.embed(np.stack(images[i : i + BATCH]))
    model_rate = len(images) / (time.perf_counter() - started)
    model_cpu = (time.process_time() - cpu) / len(images) * 1000
    started, cpu = time.perf_counter(), time.process_time()
    ahead = [pool.submit(decode_image, p) for p in paths[:BATCH]]
    for i in range(0, len(paths), BATCH):
        batch = np.stack([f.result() for f in ahead])
        ahead = [pool.submit(decode_image, p) for p in paths[i + BATCH : i + 2 * BATCH]]
        encoder.embed(batch)
    both = len(paths) / (time.perf_counter() - started)
    both_cpu = (time.process_time() - cpu) / len(paths) * 1000
    pool.shutdown()
    precision = "bfloat16" if encoder.bfloat16 else "float32"
    print(
        f"in-process, {threads} torch thread(s), batch {BATCH}, {precision}: decode {decode_rate:.0f} img/s "
        f"(2 threads, draft mode), model {model_rate:.1f} img/s ({model_cpu:.1f} CPU ms/img), decode+model pipelined "
        f"{both:.1f} img/s ({both_cpu:.1f} CPU ms/img)   load avg {os.getloadavg()[0]:.1f}"
    )


def through_server(state: Path, n: int, threads: int) -> None:
    server = Server(state, torch_threads=threads)
    with server, server.client(timeout=120) as client:
        r = client.post("/datasets", json={"name": "jpegs", "format": "folders", "path": "jpegs"})
        assert r.status_code == 202, r.text
        dataset_id, job_id = r.json()["dataset_id"], r.json()["job_id"]
        while client.get(f"/jobs/{job_id}").json()["state"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.1)
        health, page = [], []
        stop = threading.Event()

        def poll() -> None:
            with server.client(timeout=30) as poller:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    poller.get("/health")
                    health.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    poller.get(f"/datasets/{dataset_id}/samples", params={"limit": 50, "offset": 100})
                    page.append((time.perf_counter() - t0) * 1000)
                    time.sleep(0.05)

        started, cpu0 = time.perf_counter(), cpu_seconds(server.proc.pid)
        job_id = client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"]
        poller = threading.Thread(target=poll)
        poller.start()
        while (job := client.get(f"/jobs/{job_id}").json())["state"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(server.proc.pid) - cpu0
        stop.set()
        poller.join()
        assert job["state"] == "succeeded", job
        result = job["result"]
        print(
            f"server job, torch_threads={threads}: {result['embedded']} images in {wall:.1f} s wall = "
            f"{result['embedded'] / wall:.1f} img/s (job's own clock {result['seconds']:.1f} s incl. DuckDB writes "
            f"and uniqueness); server CPU {cpu / result['embedded'] * 1000:.1f} ms/img (incl. the polled requests)   "
            f"load avg {os.getloadavg()[0]:.1f}"
        )
        print(f"during the job: GET /health {pct(health)};  samples page {pct(page)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=480)
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dv-bench-emb-") as tmp:
        state = Path(tmp) / "state"
        paths = write_jpegs(state / "datasets" / "jpegs" / "photos", args.n)
        print(f"{len(paths)} JPEGs of 640x480, {sum(p.stat().st_size for p in paths) / len(paths) / 1024:.0f} KiB each")
        if not args.skip_in_process:
            in_process(paths, args.torch_threads)
        through_server(state, args.n, args.torch_threads)


if __name__ == "__main__":
    main()
