"""What the benchmarks on the 100K-image / 1M-box dataset share: its import into a server, and timing the app
in headless Chromium with the Performance API.

    with benchmark_server(args) as (server, client, dataset_id): ...   # after add_dataset_args(parser)

The dataset (bench/make_coco.py's COCO file, no image files) and two synthetic prediction runs (`RUNS`, written
next to it once) are imported into the server's state directory (--state, default bench/out/page_boxes), so
every script reuses the first one's import.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.server import Server

ROOT = Path(__file__).resolve().parent.parent
WEBUI = ROOT / "app" / "webui" / "index.html"
RUNS = ("det_a", "det_b")
VIEWPORT = {"width": 1400, "height": 900}
# Collects long tasks from the first byte of every page (the observer must exist before the app runs).
INIT = """
performance.setResourceTimingBufferSize(100000);
window.__long = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
}).observe({type: "longtask", buffered: true});
"""
WAIT_MARK = "([name, after]) => performance.getEntriesByName(name).some((e) => e.startTime >= after)"
MARK_AFTER = "([name, after]) => performance.getEntriesByName(name).filter((e) => e.startTime >= after)[0].startTime"


# -- the dataset in a server ---------------------------------------------------------------------------------
def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coco", type=Path, default=ROOT / "bench/out/coco/annotations.json")
    parser.add_argument("--state", type=Path, default=ROOT / "bench/out/page_boxes")


@contextmanager
def benchmark_server(
    args: argparse.Namespace, timeout: float = 900, app: bool = False, data_roots: str | None = None
) -> Iterator[tuple[Server, object, int]]:
    """A running server with the dataset and both runs imported: (server, API client, dataset id). Its data
    roots are `data_roots` (the settings' list syntax), by default the COCO file's folder."""
    coco = args.coco.resolve()
    if not coco.is_file():
        raise SystemExit(f"{coco} missing: run bench/make_coco.py first")
    if app and not WEBUI.is_file():
        raise SystemExit(f"{WEBUI} missing: build the app first (make ui)")
    runs = write_runs(coco)
    roots = data_roots or str(coco.parent)
    server = Server(args.state.resolve(), data_roots=roots, plugin_dir=str(args.state / "no-plugins"))
    with server:
        client = server.client(timeout=timeout)
        yield server, client, ensure_imported(client, coco, runs)


def write_runs(coco: Path) -> dict[str, Path]:
    """Two prediction runs next to the COCO file: jittered copies of ~90 % of the ground truth plus background
    boxes, 1M predictions each at 1M boxes; `det_a` in image order as detectors write them, `det_b` shuffled."""
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


# -- the app in Chromium -------------------------------------------------------------------------------------
def launch(pw):  # noqa: ANN001, ANN201
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_page(browser):  # noqa: ANN001, ANN201
    """A fresh context (empty cache) and its page, long tasks recorded from the first byte."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.add_init_script(INIT)
    return context, page


def collect_scripts(page) -> dict[str, bytes]:  # noqa: ANN001
    """url -> body of every script the page loads from now on (filled in as responses arrive)."""
    bodies: dict[str, bytes] = {}
    page.on(
        "response",
        lambda r: bodies.__setitem__(r.url, r.body()) if r.request.resource_type == "script" else None,
    )
    return bodies


def wait_mark(page, name: str, after: float = 0, timeout: float = 120_000) -> float:  # noqa: ANN001
    """When the app's performance mark `name` was set (ms since navigation start), the first one after `after`."""
    page.wait_for_function(WAIT_MARK, arg=[name, after], timeout=timeout)
    return page.evaluate(MARK_AFTER, [name, after])


def cold_paints(  # noqa: ANN001
    browser, url: str, mark: str, repeat: int, before=None, first=None
) -> tuple[list[float], dict[str, bytes]]:
    """Navigation start -> `mark` in `repeat` fresh contexts opening `url`; and the scripts the first one
    loaded from the server. In the first context `before(page)` runs before the navigation and
    `first(page, what before returned)` after the mark (e.g. waits for more, counts requests)."""
    times: list[float] = []
    scripts: dict[str, bytes] = {}
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    for i in range(repeat):
        context, page = new_page(browser)
        bodies = collect_scripts(page)
        watched = before(page) if before is not None and i == 0 else None
        page.goto(url)
        times.append(wait_mark(page, mark))
        if i == 0:
            if first is not None:
                first(page, watched)
            scripts = {u: b for u, b in bodies.items() if u.startswith(origin)}
        context.close()
    return times, scripts


def print_scripts(title: str, scripts: dict[str, bytes]) -> None:
    raw = sum(len(b) for b in scripts.values())
    zipped = sum(len(gzip.compress(b, compresslevel=9)) for b in scripts.values())
    print(f"{title}: {len(scripts)} file(s), {raw / 1024:.1f} KB raw, {zipped / 1024:.1f} KB gzipped (-9)")
    for url, body in sorted(scripts.items()):
        print(f"  {urlsplit(url).path}: {len(body) / 1024:.1f} KB raw, {len(gzip.compress(body, 9)) / 1024:.1f} KB gz")
