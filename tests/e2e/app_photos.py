"""A small real dataset for the app's browser tests: scikit-image photos with hand-placed COCO boxes
(ground truth) and one prediction run (COCO results) that matches some boxes and misses others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

# photo -> boxes [category, x, y, w, h] in the photo's pixels; placed roughly over the real objects
PHOTOS: dict[str, list[tuple[str, float, float, float, float]]] = {
    "astronaut": [("person", 130.0, 20.0, 250.0, 300.0), ("flag", 0.0, 10.0, 140.0, 160.0)],
    "chelsea": [("cat", 40.0, 20.0, 390.0, 280.0)],
    "coffee": [("cup", 120.0, 40.0, 380.0, 250.0), ("spoon", 50.0, 180.0, 170.0, 140.0)],
    "rocket": [("rocket", 290.0, 40.0, 80.0, 300.0)],
    "hubble_deep_field": [("galaxy", 100.0, 100.0, 80.0, 60.0), ("galaxy", 300.0, 250.0, 70.0, 90.0)],
    "camera": [("person", 140.0, 40.0, 250.0, 460.0), ("camera", 100.0, 80.0, 120.0, 110.0)],
    "immunohistochemistry": [],
    "coins": [("coin", 20.0, 15.0, 60.0, 60.0), ("coin", 100.0, 20.0, 55.0, 55.0)],
    "clock": [("clock", 60.0, 30.0, 250.0, 250.0)],
    "page": [],
    "retina": [("vessel", 300.0, 300.0, 400.0, 400.0)],
    "cell": [("cell", 200.0, 200.0, 120.0, 100.0)],
    "horse": [("horse", 40.0, 40.0, 300.0, 260.0)],
}


def _array(name: str) -> np.ndarray:
    from skimage import data

    array = getattr(data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = (255 * (array - array.min()) / max(1e-9, float(array.max() - array.min()))).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return array[..., :3]


def make_photos(root: Path, copies: int = 1) -> dict:
    """root/images/<photo>[_k].jpg, root/annotations.json, root/predictions.json; returns the COCO dict."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    names = sorted({box[0] for boxes in PHOTOS.values() for box in boxes})
    categories = [{"id": i + 1, "name": n, "supercategory": "thing"} for i, n in enumerate(names)]
    cat_id = {c["name"]: c["id"] for c in categories}
    images, annotations, predictions = [], [], []
    for k in range(copies):
        for photo, boxes in PHOTOS.items():
            array = _array(photo)
            h, w = array.shape[:2]
            file_name = f"{photo}.jpg" if k == 0 else f"{photo}_{k}.jpg"
            Image.fromarray(array).save(root / "images" / file_name, quality=85)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
            for j, (cat, x, y, bw, bh) in enumerate(boxes):
                bw, bh = min(bw, w - x), min(bh, h - y)
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": cat_id[cat],
                        "bbox": [x, y, bw, bh],
                        "area": bw * bh,
                        "iscrowd": 0,
                    }
                )
                if j == 0:  # the model finds the first object, slightly off, and misses the others
                    predictions.append(
                        {
                            "image_id": image_id,
                            "category_id": cat_id[cat],
                            "bbox": [x + 8, y + 6, bw - 10, bh - 4],
                            "score": 0.9,
                        }
                    )
            if boxes and photo in ("coffee", "camera"):  # and a confident false positive
                predictions.append(
                    {"image_id": image_id, "category_id": cat_id[names[0]], "bbox": [5, 5, 60, 50], "score": 0.6}
                )
    data = {
        "info": {"description": "scikit-image photos"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    (root / "annotations.json").write_text(json.dumps(data))
    (root / "predictions.json").write_text(json.dumps(predictions))
    return data


def make_many(root: Path, n: int) -> Path:
    """`n` small crops of the photos as a COCO dataset without image sizes (the import reads them,
    reporting progress as it goes); one box per image. Returns the annotations file."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    arrays = [_array(name) for name in PHOTOS]
    images, annotations = [], []
    for i in range(n):
        array = arrays[i % len(arrays)]
        h, w = array.shape[:2]
        y, x = (i * 37) % (h - 72), (i * 53) % (w - 96)
        file_name = f"crop_{i:05d}.jpg"
        Image.fromarray(array[y : y + 72, x : x + 96]).save(root / "images" / file_name, quality=80)
        images.append({"id": i + 1, "file_name": file_name})
        annotations.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1 + i % 3,
                "bbox": [10, 8, 40, 30],
                "area": 1200,
                "iscrowd": 0,
            }
        )
    categories = [{"id": 1, "name": "red"}, {"id": 2, "name": "green"}, {"id": 3, "name": "blue"}]
    path = root / "annotations.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path
