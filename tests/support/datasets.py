"""Fixture builders for the dataset tests: real image files (PIL, scikit-image photos) in the layouts
each importer reads, and a helper that imports through the API and waits for the job."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (20, 20, 20), (240, 240, 240)]


def write_image(path: Path, size: tuple[int, int], color: tuple[int, int, int] = (128, 128, 128)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    suffix = path.suffix.lower()
    image.save(path, format={".png": "PNG", ".bmp": "BMP"}.get(suffix, "JPEG"))
    return path


def write_photo(path: Path, name: str = "chelsea") -> Path:
    from skimage import data

    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[..., :3]).save(path)
    return path


def coco_dict(n_images: int = 6, sizes: list[tuple[int, int]] | None = None) -> dict:
    """Images img_000.jpg ... with 0..3 boxes each over categories cat, dog, bird (ids 1, 2, 5)."""
    sizes = sizes or [(64 + 8 * i, 48 + 4 * i) for i in range(n_images)]
    images = [
        {"id": 100 + i, "file_name": f"img_{i:03d}.jpg", "width": w, "height": h} for i, (w, h) in enumerate(sizes)
    ]
    categories = [
        {"id": 1, "name": "cat", "supercategory": "animal"},
        {"id": 2, "name": "dog", "supercategory": "animal"},
        {"id": 5, "name": "bird", "supercategory": "animal"},
    ]
    annotations, next_id = [], 1
    for i, image in enumerate(images):
        for j in range(i % 4):  # 0, 1, 2, 3, 0, 1 ... boxes
            cat = [1, 2, 5][(i + j) % 3]
            bbox = [1.0 + j, 2.0 + j, 10.0 + i, 8.0 + j]
            annotations.append(
                {
                    "id": next_id,
                    "image_id": image["id"],
                    "category_id": cat,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                    "segmentation": [[1, 2, 3, 4, 5, 6]],
                }
            )
            next_id += 1
    return {"info": {"description": "test"}, "images": images, "annotations": annotations, "categories": categories}


def make_coco(root: Path, n_images: int = 6, images: bool = True, data: dict | None = None) -> Path:
    """root/annotations.json + root/images/*.jpg (real JPEGs of the declared sizes)."""
    data = data or coco_dict(n_images)
    root.mkdir(parents=True, exist_ok=True)
    if images:
        for i, image in enumerate(data["images"]):
            write_image(root / "images" / image["file_name"], (image["width"], image["height"]), COLORS[i % 6])
    ann = root / "annotations.json"
    ann.write_text(json.dumps(data))
    return ann


FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


def wait_job(client: httpx.Client, job_id: str, timeout: float = 60.0, states: frozenset[str] = FINAL_STATES) -> dict:
    """Poll until the job reaches one of `states` (by default: it finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not in {sorted(states)} within {timeout} s")


def import_dataset(client: httpx.Client, name: str, path: Path | str, fmt: str = "auto", **extra: object) -> dict:
    """POST /datasets and wait; returns the finished job (with dataset_id added)."""
    response = client.post("/datasets", json={"name": name, "format": fmt, "path": str(path), **extra})
    assert response.status_code == 202, response.text
    body = response.json()
    job = wait_job(client, body["job_id"])
    job["dataset_id"] = body["dataset_id"]
    return job
