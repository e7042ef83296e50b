#!/usr/bin/env python3
"""Verify helper run inside a Molecule instance (system python3, stdlib only): talks to DataVisor on loopback.

dvclient.py seed DIR                   write a tiny COCO dataset (3 PNG images, annotations.json) into DIR
dvclient.py import URL NAME FILE       import FILE as dataset NAME, wait for the job; print the dataset as JSON
dvclient.py stream URL FILE SECONDS OUT  import FILE again and again for at least SECONDS and until 3 imports
                                       were acknowledged after the last failure (at most 10 x SECONDS); append
                                       every acknowledged (job succeeded) dataset id to OUT; failures while the
                                       service restarts are not acknowledged and are retried
dvclient.py check URL OUT SAMPLES      every dataset id in OUT is there, ready, with SAMPLES samples
dvclient.py edit URL DATASET OUT       move the first ground-truth box of DATASET's first sample by one pixel
                                       (PATCH with its version); write the acknowledged box to OUT as JSON
dvclient.py check-edit URL OUT         the box in OUT is stored as acknowledged (bbox, version), and the
                                       dataset's history holds that edit
"""

from __future__ import annotations

import json
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path


def png(width: int, height: int, shade: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([shade, shade, shade]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def seed(directory: str) -> None:
    root = Path(directory)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(1, 4):
        (root / "images" / f"img{i}.png").write_bytes(png(32, 24, 60 * i))
        images.append({"id": i, "file_name": f"img{i}.png", "width": 32, "height": 24})
        annotations.append(
            {"id": i, "image_id": i, "category_id": 1 + i % 2, "bbox": [2, 2, 10, 8], "area": 80, "iscrowd": 0}
        )
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    (root / "annotations.json").write_text(json.dumps(coco))
    print(root / "annotations.json")


def call(method: str, url: str, body: object | None = None, timeout: float = 10.0) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def import_once(url: str, name: str, path: str, timeout: float = 60.0) -> dict:
    """Import and wait for the job; raises on anything but success."""
    status, started = call("POST", f"{url}/api/datasets", {"name": name, "format": "coco", "path": path})
    if status != 202:
        raise RuntimeError(f"POST /datasets answered {status}: {started}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = call("GET", f"{url}/api/jobs/{started['job_id']}")
        if status != 200:
            raise RuntimeError(f"GET /jobs answered {status}: {job}")
        if job["state"] == "succeeded":
            return started
        if job["state"] == "failed":
            raise RuntimeError(f"import job failed: {job}")
        time.sleep(0.1)
    raise RuntimeError("import job did not finish")


def stream(url: str, path: str, seconds: float, out: str) -> None:
    acknowledged, failed, since_failure = 0, 0, 0
    started = time.monotonic()
    with open(out, "a") as ids:
        while time.monotonic() - started < 10 * seconds:
            if time.monotonic() - started >= seconds and (failed == 0 or since_failure >= 3):
                break
            try:
                reply = import_once(url, f"stream-{time.time_ns()}", path)
            except (OSError, RuntimeError, ValueError) as error:  # the service is restarting: not acknowledged
                failed += 1
                since_failure = 0
                print(f"not acknowledged: {error}", file=sys.stderr)
                time.sleep(0.5)
                continue
            ids.write(f"{reply['dataset_id']}\n")
            ids.flush()
            acknowledged += 1
            since_failure += 1
    print(
        json.dumps(
            {"acknowledged": acknowledged, "not_acknowledged": failed, "acknowledged_after_last_failure": since_failure}
        )
    )


def check(url: str, out: str, samples: int) -> None:
    wanted = [int(line) for line in Path(out).read_text().split()]
    status, datasets = call("GET", f"{url}/api/datasets")
    if status != 200:
        raise SystemExit(f"GET /datasets answered {status}")
    present = {d["id"]: d for d in datasets}
    lost = [i for i in wanted if i not in present]
    wrong = [
        i
        for i in wanted
        if i in present and (present[i]["status"] != "ready" or present[i]["counts"]["samples"] != samples)
    ]
    print(
        json.dumps({"acknowledged": len(wanted), "present": len(wanted) - len(lost), "lost": lost, "incomplete": wrong})
    )
    if lost or wrong or not wanted:
        raise SystemExit(1)


def first_box(url: str, dataset: int) -> tuple[int, dict]:
    status, page = call("GET", f"{url}/api/datasets/{dataset}/samples?limit=1")
    if status != 200 or not page["items"]:
        raise SystemExit(f"GET samples of dataset {dataset} answered {status}: {page}")
    sample = page["items"][0]["id"]
    status, detail = call("GET", f"{url}/api/samples/{sample}")
    if status != 200:
        raise SystemExit(f"GET /api/samples/{sample} answered {status}: {detail}")
    return sample, next(a for a in detail["annotations"] if a["source"] == "ground_truth")


def edit(url: str, dataset: int, out: str) -> None:
    _, box = first_box(url, dataset)
    x, y, w, h = box["bbox"]
    status, reply = call(
        "PATCH", f"{url}/api/annotations/{box['id']}", {"version": box["version"], "bbox": [x + 1, y + 1, w, h]}
    )
    if status != 200:
        raise SystemExit(f"PATCH /api/annotations/{box['id']} answered {status}: {reply}")
    acknowledged = {"dataset": dataset, "history_id": reply["history_id"], **reply["annotation"]}
    Path(out).write_text(json.dumps(acknowledged))
    print(json.dumps(acknowledged))


def check_edit(url: str, out: str) -> None:
    wanted = json.loads(Path(out).read_text())
    _, box = first_box(url, wanted["dataset"])
    status, history = call("GET", f"{url}/api/datasets/{wanted['dataset']}/history?limit=50")
    ids = [entry["id"] for entry in history.get("items", [])] if status == 200 else []
    found = {"bbox": box["bbox"], "version": box["version"], "history_has_edit": wanted["history_id"] in ids}
    print(json.dumps({"acknowledged": {k: wanted[k] for k in ("bbox", "version")}, "stored": found}))
    if [box["id"], box["bbox"], box["version"]] != [wanted["id"], wanted["bbox"], wanted["version"]] or not found[
        "history_has_edit"
    ]:
        raise SystemExit(1)


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "seed":
        seed(args[0])
    elif command == "import":
        started = import_once(args[0], args[1], args[2])
        status, dataset = call("GET", f"{args[0]}/api/datasets/{started['dataset_id']}")
        print(json.dumps(dataset))
    elif command == "stream":
        stream(args[0], args[1], float(args[2]), args[3])
    elif command == "check":
        check(args[0], args[1], int(args[2]))
    elif command == "edit":
        edit(args[0], int(args[1]), args[2])
    elif command == "check-edit":
        check_edit(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
