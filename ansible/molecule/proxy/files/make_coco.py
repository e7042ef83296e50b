"""Write an annotation-only COCO file (sizes in the file, no pixels): big enough that importing it takes a
few seconds, so its job reports progress more than once. Standard library only (runs in the instance)."""

import json
import random
import sys

out, images, boxes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(8)
doc = {
    "images": [{"id": i, "file_name": f"{i:08d}.jpg", "width": 640, "height": 480} for i in range(1, images + 1)],
    "categories": [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in range(1, 21)],
    "annotations": [
        {
            "id": a,
            "image_id": rng.randint(1, images),
            "category_id": rng.randint(1, 20),
            "bbox": [rng.randint(0, 500), rng.randint(0, 300), rng.randint(5, 100), rng.randint(5, 100)],
            "area": 100.0,
            "iscrowd": 0,
        }
        for a in range(1, boxes + 1)
    ],
}
with open(out, "w") as fh:
    json.dump(doc, fh)
