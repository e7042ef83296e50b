"""Benchmark: a grid page of 100 samples *with their boxes* (ground truth + two prediction runs), one request.

    .venv/bin/python bench/make_coco.py            # once: bench/out/coco/annotations.json (100K images, 1M boxes)
    .venv/bin/python bench/page_boxes.py [--rounds 50] [--state bench/out/page_boxes]

Writes two synthetic prediction runs next to the COCO file (jittered copies of ~90 % of the ground truth plus
background boxes, 1M predictions each; `det_a` in image order as detectors write them, `det_b` shuffled),
imports the dataset and both runs into a server (kept in --state, so a second run skips the imports), then
prints p50/p95 of GET /api/datasets/{id}/samples?limit=100&boxes=true&runs=det_a&runs=det_b:
- server-side: what the route does (the service call, which returns the reply's JSON bytes), in-process on
  the same DuckDB file after the server stopped (wall clock and process CPU time), with and without boxes;
- end to end over HTTP on loopback, and, for comparison, the old way: the page plus one /samples/{id} per item.
Pages walk through the dataset (different offsets each round) in id order and with a sort + filter.
Target: p50 <= 20 ms server-side. The machine's load average is printed with every block.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average, percentiles, process_cpu_seconds, timed  # noqa: E402
from tests.server import Server  # noqa: E402

RUNS = ("det_a", "det_b")
LIMIT = 100
PAGES = [
    ("id order", {}),
    ("category + sort file_name desc", {"category": "class_07", "sort_by": "file_name", "sort_dir": "desc"}),
    ("sort annotation_count desc", {"sort_by": "annotation_count", "sort_dir": "desc"}),
]


def write_runs(coco: Path) -> dict[str, Path]:
    paths = {run: coco.parent / f"predictions-{run}.json" for run in RUNS}
    if all(p.is_file() for p in paths.values()):
        return paths
    import duckdb
    import pyarrow as pa

    data = json.loads(coco.read_text())
    ann = data["annotations"]
    image = np.array([a["image_id"] for a in ann])
    cat = np.array([a["category_id"] for a in ann])
    boxes = np.array([a["bbox"] for a in ann], dtype=np.float64)
    n_images = len(data["images"])
    for k, path in enumerate(paths.values()):
        rng = np.random.default_rng(k + 1)
        keep = np.flatnonzero(rng.random(len(ann)) < 0.9)
        jitter = rng.normal(0, 0.05, (len(keep), 4)) * np.c_[boxes[keep, 2:], boxes[keep, 2:]]
        b = boxes[keep] + jitter
        b[:, 2:] = np.maximum(b[:, 2:], 1.0)
        n_bg = len(ann) - len(keep)
        bg = np.c_[rng.uniform(0, 500, (n_bg, 2)), rng.uniform(8, 200, (n_bg, 2))]
        img = np.r_[image[keep], rng.integers(1, n_images + 1, n_bg)]
        order = np.argsort(img, kind="stable") if k == 0 else rng.permutation(len(img))
        table = pa.table(
            {
                "image_id": img[order],
                "category_id": np.r_[cat[keep], rng.integers(1, 81, n_bg)][order],
                "x": np.round(np.r_[b[:, 0], bg[:, 0]][order], 1),
                "y": np.round(np.r_[b[:, 1], bg[:, 1]][order], 1),
                "w": np.round(np.r_[b[:, 2], bg[:, 2]][order], 1),
                "h": np.round(np.r_[b[:, 3], bg[:, 3]][order], 1),
                "score": np.round(rng.random(len(img)), 3)[order],
            }
        )
        con = duckdb.connect()
        con.register("_p", table)
        con.execute(
            f"COPY (SELECT image_id, category_id, [x, y, w, h] AS bbox, score FROM _p) TO '{path}' "
            "(FORMAT JSON, ARRAY true)"
        )
        con.close()
        print(f"wrote {path}: {table.num_rows} predictions ({'image order' if k == 0 else 'shuffled'})")
    return paths


def wait(client, job_id: str) -> dict:  # noqa: ANN001
    while (job := client.get(f"/jobs/{job_id}").json())["state"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.2)
    if job["state"] != "succeeded":
        raise SystemExit(f"job {job_id} {job['state']}: {job.get('error')}")
    return job


def ensure_imported(client, coco: Path, runs: dict[str, Path]) -> int:  # noqa: ANN001
    existing = [d for d in client.get("/datasets").json() if d["name"] == "bench-boxes"]
    if existing:
        dataset_id = existing[0]["id"]
    else:
        started = time.perf_counter()
        body = {"name": "bench-boxes", "format": "coco", "path": str(coco), "annotations_only": True}  # no image files
        accepted = client.post("/datasets", json=body)
        accepted.raise_for_status()
        wait(client, accepted.json()["job_id"])
        dataset_id = accepted.json()["dataset_id"]
        print(f"imported {coco.name} in {time.perf_counter() - started:.1f} s")
    have = {r["run"] for r in client.get(f"/datasets/{dataset_id}/predictions").json()}
    for run, path in runs.items():
        if run in have:
            continue
        started = time.perf_counter()
        body = {"run": run, "path": str(path), "format": "coco_results"}
        accepted = client.post(f"/datasets/{dataset_id}/predictions", json=body)
        accepted.raise_for_status()
        wait(client, accepted.json()["job_id"])
        print(f"imported prediction run {run} in {time.perf_counter() - started:.1f} s")
    return dataset_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coco", type=Path, default=ROOT / "bench/out/coco/annotations.json")
    parser.add_argument("--state", type=Path, default=ROOT / "bench/out/page_boxes")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    coco = args.coco.resolve()
    if not coco.is_file():
        raise SystemExit(f"{coco} missing: run bench/make_coco.py first")
    runs = write_runs(coco)
    server = Server(args.state.resolve(), data_roots=str(coco.parent), plugin_dir=str(args.state / "no-plugins"))
    with server:
        client = server.client(timeout=900)
        dataset_id = ensure_imported(client, coco, runs)
        counts = client.get(f"/datasets/{dataset_id}").json()["counts"]
        url = f"/datasets/{dataset_id}/samples"
        boxes = {"boxes": "true", "runs": list(RUNS), "limit": LIMIT}
        body = client.get(url, params=boxes).json()
        n_boxes = len(body["boxes"]["id"])
        print(
            f"dataset: {counts['samples']} samples, {counts['annotations']} ground-truth boxes, "
            f"runs {', '.join(RUNS)}; "
            f"a page of {LIMIT} carries {n_boxes} boxes"
        )
        print(f"HTTP on loopback, end to end; load {load_average()}:")
        cpu0 = process_cpu_seconds(server.proc.pid)
        for label, extra in PAGES:

            def one(i: int, extra: dict = extra) -> None:
                client.get(url, params={**boxes, **extra, "offset": (i % 50) * LIMIT}).raise_for_status()

            print(f"  page + boxes, {label:<34} {percentiles(timed(one, args.rounds))}")

        def old_way(i: int) -> None:
            page = client.get(url, params={"limit": LIMIT, "offset": (i % 50) * LIMIT}).json()
            for item in page["items"]:
                client.get(f"/samples/{item['id']}").raise_for_status()

        rounds = max(3, args.rounds // 10)
        before = percentiles(timed(old_way, rounds))
        print(f"  before: page + {LIMIT} x /samples/{{id}} ({LIMIT + 1} requests) {before}")
        print(f"  server CPU time for all of the above {process_cpu_seconds(server.proc.pid) - cpu0:.2f} s")

    from app.db import Database
    from app.services import samples
    from app.services.query import SampleQuery

    db = Database(server.db_path)
    db.open()
    try:
        print(
            "server-side (service call returning the reply's JSON, in-process on the same file); wall clock and "
            f"process CPU time; load {load_average()}:"
        )
        for label, extra in PAGES:
            queries = [SampleQuery(**extra, limit=LIMIT, offset=(i % 50) * LIMIT) for i in range(50)]

            def call(i: int, queries: list = queries) -> None:
                samples.page_json(db, dataset_id, queries[i % 50], boxes=True, runs=RUNS)  # the reply's bytes

            wall = percentiles(timed(call, args.rounds))
            cpu = percentiles(timed(call, args.rounds, time.process_time))
            print(f"  page + boxes, {label:<34} wall {wall}   | CPU {cpu}")
        for label, extra in PAGES:
            queries = [SampleQuery(**extra, limit=LIMIT, offset=(i % 50) * LIMIT) for i in range(50)]

            def alone(i: int, queries: list = queries) -> None:
                samples.page_json(db, dataset_id, queries[i % 50])

            wall = percentiles(timed(alone, args.rounds))
            cpu = percentiles(timed(alone, args.rounds, time.process_time))
            print(f"  page alone (no boxes), {label:<26} wall {wall}   | CPU {cpu}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
