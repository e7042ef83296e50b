"""Benchmark: COCO-style evaluation of 1,000,000 predictions against 1,000,000 ground-truth boxes.

Synthetic data over 100,000 images (10 boxes per image, 80 categories, 1% crowd): predictions are jittered
copies of the ground truth (some relabelled, some dropped, some doubled) plus background boxes, so every
code path (matching at ten thresholds, crowd, duplicates, confusion, localisation) does real work.
Prints the wall time of each stage; the target is <= 30 s in total on the 2-core reference machine.

With --store it also runs the whole prediction-run import as the server does (a real DuckDB file under a
temporary folder): parse a 1M-entry COCO results file, evaluate, write predictions + per-box results in
one transaction, then time the reads (evaluation reply, samples sorted by worst, a confusion cell).

    .venv/bin/python bench/evaluation.py [--images 100000] [--per-image 10] [--categories 80] [--store]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from app.services import evaluation as ev


def synthetic(n_images: int, per_image: int, n_cats: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = n_images * per_image
    image = np.repeat(np.arange(1, n_images + 1), per_image)
    xy = rng.uniform(0, 560, (n, 2))
    wh = rng.uniform(4, 120, (n, 2))
    gt = ev.GroundTruth(
        image=image,
        category=rng.integers(1, n_cats + 1, n),
        boxes=np.c_[xy, wh],
        iscrowd=rng.random(n) < 0.01,
    )
    # predictions: 85% of gts found (10% of those relabelled, 5% doubled), the rest background; total = n
    found = rng.random(n) < 0.85
    src = np.flatnonzero(found)
    doubled = src[rng.random(len(src)) < 0.05]
    src = np.r_[src, doubled]
    n_bg = n - len(src)
    jitter = rng.normal(0, 0.1, (len(src), 4)) * np.c_[wh[src], wh[src]]
    boxes = gt.boxes[src] + jitter
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
    cat = gt.category[src].copy()
    relabel = rng.random(len(src)) < 0.1
    cat[relabel] = rng.integers(1, n_cats + 1, int(relabel.sum()))
    bg_boxes = np.c_[rng.uniform(0, 560, (n_bg, 2)), rng.uniform(4, 120, (n_bg, 2))]
    dt = ev.Predictions(
        image=np.r_[gt.image[src], rng.integers(1, n_images + 1, n_bg)],
        category=np.r_[cat, rng.integers(1, n_cats + 1, n_bg)],
        boxes=np.r_[boxes, bg_boxes],
        score=np.round(rng.random(n), 3),  # rounded: plenty of ties, as real detectors produce
    )
    return gt, dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--per-image", type=int, default=10)
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--store", action="store_true", help="also time the full import into DuckDB and reads")
    args = parser.parse_args()
    gt, dt = synthetic(args.images, args.per_image, args.categories)
    print(
        f"ground truth: {len(gt):,}  predictions: {len(dt):,}  images: {args.images:,}  categories: {args.categories}"
    )

    laps: list[tuple[str, float, float]] = []
    wall, cpu = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal wall, cpu
        w, c = time.perf_counter(), time.process_time()
        laps.append((name, w - wall, c - cpu))
        wall, cpu = w, c

    m = ev.match(gt, dt, ev.IOU_THRESHOLDS, images=np.arange(1, args.images + 1))
    lap("match (10 IoU thresholds)")
    acc = ev.accumulate(m, gt, dt)
    lap("accumulate (AP, PR)")
    errors = ev.analyse(m, gt, dt, 0.5)
    lap("error analysis")
    scores = ev.image_scores(m, gt, dt, errors)
    reply = ev.summarise(m, acc, 0.5, errors=errors)
    lap("image scores + summary")
    # CPU seconds next to wall seconds: on a shared machine the gap is time spent waiting for a core
    for name, w, c in laps:
        print(f"{name:28s} {w:7.2f} s wall  {c:7.2f} s cpu")
    total_wall, total_cpu = sum(x[1] for x in laps), sum(x[2] for x in laps)
    print(f"TOTAL evaluation wall time: {total_wall:.2f} s  (cpu {total_cpu:.2f} s; target <= 30 s wall)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"mAP@[.5:.95] = {reply['map']:.4f}  mAP@.5 = {reply['map50']:.4f}  "
        f"TP={reply['tp']:,} FP={reply['fp']:,} FN={reply['fn']:,}  errors={reply['errors']}"
    )
    print(f"worst image score max = {scores['worst'].max():.2f}")
    if args.store:
        store_bench(gt, dt, args.images, args.categories)


class _Ctx:
    """The bits of a JobContext the import uses."""

    def progress(self, done=None, total=None, message=None) -> None:  # noqa: ANN001
        pass

    def check_cancelled(self) -> None:
        pass


def build_database(tmp: str, gt: ev.GroundTruth, dt: ev.Predictions, n_images: int, n_cats: int):  # noqa: ANN201
    """A ready dataset 1 in a DuckDB file under `tmp` and the predictions as a COCO results file.

    Returns (the open Database, the results file path). Also used by bench/edit_eval.py.
    """
    import pyarrow as pa

    from app.db import Database

    db = Database(Path(tmp) / "bench.duckdb")
    db.open()
    n_gt = len(gt)
    with db.write() as cur:
        cur.execute(
            "INSERT INTO datasets (id, name, format, path, status, created_at, updated_at) "
            "VALUES (1, 'bench', 'coco', ?, 'ready', now(), now())",
            [tmp],
        )
        ids = np.arange(1, n_images + 1)
        cur.register(
            "_s",
            pa.table({"id": ids, "file_name": [f"{i}.jpg" for i in ids], "split": np.where(ids % 5, "train", "val")}),
        )
        cur.execute(
            "INSERT INTO samples (id, dataset_id, file_name, path, width, height, split, annotation_count, "
            "source_id) SELECT id, 1, file_name, file_name, 640, 640, split, 10, id FROM _s"
        )
        cur.register("_c", pa.table({"id": np.arange(1, n_cats + 1)}))
        cur.execute("INSERT INTO categories (id, dataset_id, source_id, name) SELECT id, 1, id, 'c' || id FROM _c")
        b = gt.boxes
        cur.register(
            "_a",
            pa.table(
                {
                    "id": np.arange(1, n_gt + 1),
                    "sample_id": gt.image,
                    "category_id": gt.category,
                    "x": b[:, 0],
                    "y": b[:, 1],
                    "w": b[:, 2],
                    "h": b[:, 3],
                    "iscrowd": gt.iscrowd,
                }
            ),
        )
        cur.execute(
            "INSERT INTO annotations (id, dataset_id, sample_id, category_id, x, y, w, h, area, iscrowd, source, "
            "source_id) SELECT id, 1, sample_id, category_id, x, y, w, h, w * h, iscrowd, 'ground_truth', id "
            "FROM _a"
        )
        cur.execute("UPDATE id_counters SET next_id = ? WHERE name = 'annotations'", [n_gt + 1])
        d = dt.boxes
        cur.register(
            "_p",
            pa.table(
                {
                    "image_id": dt.image,
                    "category_id": dt.category,
                    "x": d[:, 0],
                    "y": d[:, 1],
                    "w": d[:, 2],
                    "h": d[:, 3],
                    "score": dt.score,
                }
            ),
        )
        results = Path(tmp) / "results.json"
        cur.execute(
            f"COPY (SELECT image_id, category_id, [x, y, w, h] AS bbox, score FROM _p) TO '{results}' "
            "(FORMAT JSON, ARRAY true)"
        )
    return db, results


def store_bench(gt: ev.GroundTruth, dt: ev.Predictions, n_images: int, n_cats: int) -> None:
    from app.services import evaluation_import, evaluation_replies
    from app.services import samples as samples_service
    from app.services.query import SampleQuery

    with tempfile.TemporaryDirectory(prefix="dv-bench-") as tmp:
        db, results = build_database(tmp, gt, dt, n_images, n_cats)
        size = results.stat().st_size / 1e6
        t0, c0 = time.perf_counter(), time.process_time()
        out = evaluation_import.import_run(_Ctx(), db, 1, "bench", results, "coco_results")
        t1, c1 = time.perf_counter(), time.process_time()
        reply = evaluation_replies.get_evaluation(db, 1, "bench", 0.5, None, None)
        t2 = time.perf_counter()
        page = samples_service.list_samples(db, 1, SampleQuery(eval_run="bench", sort_by="worst", limit=50))
        t3 = time.perf_counter()
        cell = evaluation_replies.confusion_cell(db, 1, "bench", "c1", "c2")
        t4 = time.perf_counter()
        filtered = samples_service.list_samples(db, 1, SampleQuery(eval_run="bench", has_fn=True, limit=50))
        t5 = time.perf_counter()
        print(f"--store: results file {size:.0f} MB, {out['predictions']:,} predictions")
        print(
            f"import job (parse + evaluate + one write transaction): {t1 - t0:7.2f} s wall ({c1 - c0:.2f} s cpu)  "
            f"stages {out['seconds']}"
        )
        print(f"GET evaluation (stored reply):                         {t2 - t1:7.3f} s  mAP={reply['map']:.4f}")
        print(f"samples sort_by=worst, first page:                     {t3 - t2:7.3f} s  total={page['total']:,}")
        print(f"confusion cell c1->c2:                                 {t4 - t3:7.3f} s  boxes={cell['boxes']}")
        print(f"samples has_fn=true, first page:                       {t5 - t4:7.3f} s  total={filtered['total']:,}")
        db.close()


if __name__ == "__main__":
    main()
