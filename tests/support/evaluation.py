"""Shared evaluation data: synthetic ground truth and predictions, the same as COCO files, pycocotools on them,
and a prediction-run import over HTTP. Used by the engine's unit tests and the API tests."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.support.datasets import wait_job


def synthetic(seed: int, n_images: int = 60, n_cats: int = 5, crowd_rate: float = 0.05, quantise: bool = True):
    """Ground truth plus perturbed, duplicated, mislabelled and random predictions, with score ties."""
    rng = np.random.default_rng(seed)
    gts, dts = [], []
    for img in range(1, n_images + 1):
        for _ in range(rng.integers(0, 12)):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(2, 150, 2)
            cat = int(rng.integers(1, n_cats + 1))
            crowd = bool(rng.random() < crowd_rate)
            gts.append((img, cat, [x, y, w, h], crowd))
            r = rng.random()
            copies = 0 if r < 0.15 else (2 if r > 0.85 else 1)
            for _ in range(copies):
                jitter = rng.normal(0, 0.12, 4) * np.array([w, h, w, h])
                box = [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])]
                c = cat if rng.random() > 0.1 else int(rng.integers(1, n_cats + 2))  # n_cats+1: not in GT
                dts.append((img, c, box, float(rng.random())))
        for _ in range(rng.integers(0, 4)):  # background
            x, y = rng.uniform(0, 500, 2)
            dts.append((img, int(rng.integers(1, n_cats + 1)), [x, y, *rng.uniform(2, 80, 2)], float(rng.random())))
    if quantise:  # many exact score ties, across and within images
        dts = [(i, c, b, round(s, 1)) for i, c, b, s in dts]
    return gts, dts


N_IMAGES, N_CATS = 40, 4
NAMES = {1: "cat", 2: "dog", 3: "bird", 4: "fish", 9: "unicorn"}  # unicorn: no ground truth


def coco_data() -> tuple[dict, list[dict]]:
    gts, dts = synthetic(21, N_IMAGES, N_CATS, crowd_rate=0.08)
    dts = [d for d in dts if d[1] <= N_CATS]  # results may only use the dataset's categories
    images = [
        {
            "id": i,
            "file_name": f"img_{i:03d}.jpg",
            "width": 640,
            "height": 640,
            "split": "val" if i % 3 == 0 else "train",
        }
        for i in range(1, N_IMAGES + 1)
    ]
    annotations = [
        {"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": int(cr)}
        for k, (i, c, b, cr) in enumerate(gts)
    ]
    categories = [{"id": c, "name": n} for c, n in NAMES.items()]
    results = [{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in dts]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def cocoeval(data: dict, results: list[dict], img_ids=None, cat_ids=None, iou=None) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(data))
        gt.createIndex()
        e = COCOeval(gt, gt.loadRes(json.loads(json.dumps(results))), "bbox")
        if img_ids is not None:
            e.params.imgIds = img_ids
        if cat_ids is not None:
            e.params.catIds = cat_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def run_job(client, ds: int, run: str, path: str, fmt: str) -> dict:
    """POST a prediction run and wait for its job."""
    r = client.post(f"/datasets/{ds}/predictions", json={"run": run, "path": str(path), "format": fmt})
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["job_id"])


def matrix_cells(labels: list[str]) -> Iterator[tuple[int, int, str, str]]:
    """Every cell of a confusion matrix over these labels (row i actual, column j predicted) that the API lists:
    all but background predicted as background."""
    for i, actual in enumerate(labels):
        for j, predicted in enumerate(labels):
            if not actual == predicted == "background":
                yield i, j, actual, predicted
