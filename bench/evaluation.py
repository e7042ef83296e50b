"""Benchmark: COCO-style evaluation of 1,000,000 predictions against 1,000,000 ground-truth boxes.

Synthetic data over 100,000 images (10 boxes per image, 80 categories, 1% crowd): predictions are jittered
copies of the ground truth (some relabelled, some dropped, some doubled) plus background boxes, so every
code path (matching at ten thresholds, crowd, duplicates, confusion, localisation) does real work.
Prints the wall time of each stage; the target is <= 30 s in total on the 2-core reference machine.

    .venv/bin/python bench/evaluation.py [--images 100000] [--per-image 10] [--categories 80]
"""

from __future__ import annotations

import argparse
import time

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
    args = parser.parse_args()
    gt, dt = synthetic(args.images, args.per_image, args.categories)
    print(
        f"ground truth: {len(gt):,}  predictions: {len(dt):,}  images: {args.images:,}  categories: {args.categories}"
    )

    t0 = time.perf_counter()
    m = ev.match(gt, dt, ev.IOU_THRESHOLDS)
    t1 = time.perf_counter()
    acc = ev.accumulate(m, gt, dt)
    t2 = time.perf_counter()
    errors = ev.analyse(m, gt, dt, 0.5)
    t3 = time.perf_counter()
    scores = ev.image_scores(m, gt, dt, errors)
    reply = ev.summarise(m, acc, 0.5, errors=errors)
    t4 = time.perf_counter()
    print(f"match (10 IoU thresholds): {t1 - t0:7.2f} s")
    print(f"accumulate (AP, PR):       {t2 - t1:7.2f} s")
    print(f"error analysis:            {t3 - t2:7.2f} s")
    print(f"image scores + summary:    {t4 - t3:7.2f} s")
    print(f"TOTAL evaluation wall time: {t4 - t0:.2f} s  (target <= 30 s)")
    print(
        f"mAP@[.5:.95] = {reply['map']:.4f}  mAP@.5 = {reply['map50']:.4f}  "
        f"TP={reply['tp']:,} FP={reply['fp']:,} FN={reply['fn']:,}  errors={reply['errors']}"
    )
    print(f"worst image score max = {scores['worst'].max():.2f}")


if __name__ == "__main__":
    main()
