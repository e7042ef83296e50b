"""Benchmark: thumbnails through the whole stack, one HTTP request per thumbnail as the grid asks for them.

    .venv/bin/python bench/thumbnails.py [--images 300] [--state bench/out/thumbnails]

Builds a COCO dataset of real photos (scikit-image's, each copied many times as its own file) in --state
(kept, so a second run skips it), imports it into a fresh server on a new state directory, then prints
p50/p95 per request of GET /api/images/{id}?size=small over HTTP on loopback (one keep-alive client):
- cold: the first request of each sample (the WebP is made and written to the thumbnail cache);
- warm: the same requests again (what a screen costs when its thumbnails exist);
- revalidation: with the ETag of the warm reply in If-None-Match (304, no body), where the server sends one;
- /api/health, the floor of a request through the stack;
and the server's CPU time per warm request. The machine's load average is printed with every block.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average, percentiles, process_cpu_seconds, timed  # noqa: E402
from tests.support.datasets import import_dataset, write_photo  # noqa: E402
from tests.support.server import Server  # noqa: E402

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "camera")


def make_dataset(root: Path, n: int) -> Path:
    ann = root / "annotations.json"
    if ann.is_file() and len(json.loads(ann.read_text())["images"]) == n:
        return ann
    originals = [write_photo(root / "photos" / f"{name}.jpg", name) for name in PHOTOS]
    from PIL import Image

    images = []
    for i in range(n):
        source = originals[i % len(originals)]
        target = root / "images" / f"img_{i:05d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        with Image.open(target) as im:
            width, height = im.size
        images.append({"id": i + 1, "file_name": target.name, "width": width, "height": height})
    categories = [{"id": 1, "name": "thing"}]
    annotations = [
        {"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [10.0, 10.0, 50.0, 40.0], "area": 2000.0}
        for i in range(n)
    ]
    ann.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--state", type=Path, default=ROOT / "bench/out/thumbnails")
    args = parser.parse_args()
    data = args.state.resolve() / "datasets"
    ann = make_dataset(data, args.images)
    with tempfile.TemporaryDirectory(dir=args.state) as state:
        server = Server(Path(state), data_roots=str(data), plugin_dir=str(Path(state) / "no-plugins"))
        with server, server.client(timeout=120) as client:
            job = import_dataset(client, "thumbnails", ann)
            assert job["state"] == "succeeded", job
            page = client.get(f"/datasets/{job['dataset_id']}/samples", params={"limit": args.images}).json()
            ids = [item["id"] for item in page["items"]]
            n = len(ids)
            print(f"dataset: {n} photos ({', '.join(PHOTOS)}); one keep-alive client on loopback")
            tags: dict[int, str] = {}

            def get(i: int) -> None:
                reply = client.get(f"/images/{ids[i % n]}", params={"size": "small"})
                reply.raise_for_status()
                if "etag" in reply.headers:
                    tags[ids[i % n]] = reply.headers["etag"]

            load = load_average()
            cold = timed(lambda i: get(i + 1), n - 1)  # timed() warms up with i=0 first: sample 0 is not cold
            print(f"  cold (makes the WebP), load {load}:  {percentiles(cold)}")
            print(f"  reply: {client.get(f'/images/{ids[0]}', params={'size': 'small'}).headers.get('cache-control')}")
            load = load_average()
            cpu0 = process_cpu_seconds(server.proc.pid)
            warm = timed(get, 3 * n)
            cpu = (process_cpu_seconds(server.proc.pid) - cpu0) / (3 * n + 1)
            print(f"  warm, load {load}:                     {percentiles(warm)}   server CPU {cpu * 1000:.2f} ms/req")
            if tags:

                def revalidate(i: int) -> None:
                    sid = ids[i % n]
                    reply = client.get(f"/images/{sid}", params={"size": "small"}, headers={"If-None-Match": tags[sid]})
                    assert reply.status_code == 304, reply.status_code

                print(f"  If-None-Match (304), load {load_average()}:        {percentiles(timed(revalidate, 3 * n))}")
            else:
                print("  If-None-Match: the server sends no ETag")
            cpu0 = process_cpu_seconds(server.proc.pid)
            health = timed(lambda i: client.get("/health").raise_for_status(), 3 * n)
            cpu = (process_cpu_seconds(server.proc.pid) - cpu0) / (3 * n + 1)
            print(
                f"  /api/health, load {load_average()}:                {percentiles(health)}   "
                f"server CPU {cpu * 1000:.2f} ms/req"
            )


if __name__ == "__main__":
    main()
