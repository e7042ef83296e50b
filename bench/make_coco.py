"""Write a synthetic COCO annotation file (no image files: width/height are in the file).

    .venv/bin/python bench/make_coco.py --images 100000 --boxes 1000000 --out bench/out/coco/annotations.json

Deterministic (seeded); 80 categories, 5 ... 15 boxes per image on average, a few images without boxes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def make(images: int, boxes: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    widths = rng.choice([640, 800, 1024, 1280], size=images)
    heights = rng.choice([480, 600, 768, 720], size=images)
    # Boxes land on 95% of the images; the rest stay empty (statistics report them).
    with_boxes = rng.choice(images, size=max(1, int(images * 0.95)), replace=False)
    image_of = np.sort(rng.choice(with_boxes, size=boxes))
    cats = rng.integers(1, 81, size=boxes)
    fx, fy = rng.random(boxes), rng.random(boxes)
    fw, fh = rng.uniform(0.02, 0.5, boxes), rng.uniform(0.02, 0.5, boxes)
    iw, ih = widths[image_of], heights[image_of]
    w = np.round(fw * iw, 1)
    h = np.round(fh * ih, 1)
    x = np.round(fx * (iw - w), 1)
    y = np.round(fy * (ih - h), 1)
    return {
        "info": {"description": "DataVisor synthetic benchmark", "version": "1"},
        "images": [
            {"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": int(widths[i]), "height": int(heights[i])}
            for i in range(images)
        ],
        "categories": [{"id": c, "name": f"class_{c:02d}", "supercategory": "thing"} for c in range(1, 81)],
        "annotations": [
            {
                "id": j + 1,
                "image_id": int(image_of[j]) + 1,
                "category_id": int(cats[j]),
                "bbox": [float(x[j]), float(y[j]), float(w[j]), float(h[j])],
                "area": round(float(w[j] * h[j]), 2),
                "iscrowd": 0,
            }
            for j in range(boxes)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/out/coco/annotations.json"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = make(args.images, args.boxes, args.seed)
    with open(args.out, "w") as handle:
        json.dump(data, handle, separators=(",", ":"))
    print(f"wrote {args.out}: {args.images} images, {args.boxes} boxes, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
