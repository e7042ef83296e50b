"""Benchmark: the evaluation view on the 100K-image / 1M-box dataset with a run of ~1M predictions, in
headless Chromium (a script, not a test).

    .venv/bin/python bench/make_coco.py      # once: bench/out/coco/annotations.json
    make ui                                  # the built app in app/webui
    .venv/bin/python bench/app_evaluation.py [--state bench/out/page_boxes] [--repeat 3]

The dataset and its two prediction runs (det_a, det_b: one prediction per ground-truth box, ~1M each) are
imported as bench/page_boxes.py does (same --state, so either script reuses the other's import). Printed,
with the machine's load average:
- the evaluation itself on first use (computing and storing the results at IoU 0.5; once per run and IoU);
- the API replies the view reads: evaluation, score thresholds, worst images; and the click-throughs:
  a confusion cell's samples, the grid page filtered to that cell, its lit boxes;
- first paint of the view: cold (a fresh browser context opens /datasets/:id/evaluation?run=det_a:
  navigation start to the app's `evaluation-painted` mark, its lazy chunk included) and in the app (a click on
  the grid's Evaluation link to the mark); the view's JavaScript chunks and their gzipped size.
Target (issue 15): evaluation view first paint <= 1 s for a run of 1M predictions.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.app import INIT, MARK_AFTER, VIEWPORT, WAIT_MARK, WEBUI  # noqa: E402
from bench.datasets import load_average, percentiles, timed  # noqa: E402
from bench.page_boxes import ensure_imported, write_runs  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.server import Server  # noqa: E402

RUN = "det_a"


def api_figures(client, ds: int, rounds: int) -> None:  # noqa: ANN001
    started = time.perf_counter()
    reply = client.get(f"/datasets/{ds}/evaluation", params={"run": RUN})
    reply.raise_for_status()
    body = reply.json()
    print(
        f"evaluation of {RUN} at IoU 0.5 on first use: {time.perf_counter() - started:.1f} s "
        f"(recomputed {body.get('recomputed')}); {body['tp'] + body['fp']:,} evaluated predictions, "
        f"{len(body['per_class'])} classes; load {load_average()}"
    )
    labels, matrix = body["confusion"]["labels"], body["confusion"]["matrix"]
    # the fullest off-diagonal cell between two classes: a realistic click
    k = len(labels) - 1
    i, j = max(((i, j) for i in range(k) for j in range(k) if i != j), key=lambda c: matrix[c[0]][c[1]])
    cell = {"eval_run": RUN, "eval_actual": labels[i], "eval_predicted": labels[j]}
    page = client.get(f"/datasets/{ds}/samples", params={**cell, "limit": 100}).json()
    ids = [s["id"] for s in page["items"]]
    calls = [
        ("evaluation reply (stored)", f"/datasets/{ds}/evaluation", {"run": RUN}),
        ("score thresholds", f"/datasets/{ds}/evaluation/thresholds", {"run": RUN}),
        ("worst images (12)", f"/datasets/{ds}/samples", {"eval_run": RUN, "sort_by": "worst", "limit": 12}),
        (
            f"confusion cell {labels[i]}->{labels[j]}",
            f"/datasets/{ds}/evaluation/confusion",
            {"run": RUN, "actual": labels[i], "predicted": labels[j], "limit": 100},
        ),
        (
            "grid page of that cell, boxes",
            f"/datasets/{ds}/samples",
            {**cell, "limit": 100, "boxes": "true", "runs": RUN},
        ),
        (
            "its lit boxes (100 samples)",
            f"/datasets/{ds}/evaluation/boxes",
            {"run": RUN, "actual": labels[i], "predicted": labels[j], "sample_id": ids},
        ),
        (
            "grid page of error=missed",
            f"/datasets/{ds}/samples",
            {"eval_run": RUN, "eval_error": "missed", "limit": 100},
        ),
    ]
    cell_size = f"{matrix[i][j]:,} boxes on {page['total']:,} samples"
    print(f"API replies, HTTP on loopback, {rounds} rounds (the cell: {cell_size}):")
    for label, url, params in calls:
        size = len(client.get(url, params=params).content)

        def one(_: int, url: str = url, params: dict = params) -> None:
            client.get(url, params=params).raise_for_status()

        print(f"  {label:<40} {percentiles(timed(one, rounds))}   {size / 1024:7.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coco", type=Path, default=ROOT / "bench/out/coco/annotations.json")
    parser.add_argument("--state", type=Path, default=ROOT / "bench/out/page_boxes")
    parser.add_argument("--repeat", type=int, default=3, help="cold and in-app first paints to take")
    parser.add_argument("--rounds", type=int, default=10, help="API calls per reply")
    args = parser.parse_args()
    coco = args.coco.resolve()
    if not coco.is_file():
        raise SystemExit(f"{coco} missing: run bench/make_coco.py first")
    if not WEBUI.is_file():
        raise SystemExit(f"{WEBUI} missing: build the app first (make ui)")
    runs = write_runs(coco)
    server = Server(args.state.resolve(), data_roots=str(coco.parent), plugin_dir=str(args.state / "no-plugins"))
    from playwright.sync_api import sync_playwright

    with server, sync_playwright() as pw:
        client = server.client(timeout=1800)
        ds = ensure_imported(client, coco, runs)
        predictions = {r["run"]: r["predictions"] for r in client.get(f"/datasets/{ds}/predictions").json()}
        counts = client.get(f"/datasets/{ds}").json()["counts"]
        print(
            f"dataset {ds}: {counts['samples']:,} samples, {counts['annotations']:,} ground-truth boxes; "
            f"run {RUN}: {predictions[RUN]:,} predictions; load {load_average()}"
        )
        api_figures(client, ds, args.rounds)
        client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": RUN}).raise_for_status()

        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        url = f"{server.url}/datasets/{ds}/evaluation?run={RUN}"
        cold, chunks = [], {}
        for i in range(args.repeat):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.add_init_script(INIT)
            bodies: dict[str, bytes] = {}
            page.on(
                "response",
                lambda r, b=bodies: b.__setitem__(r.url, r.body()) if r.request.resource_type == "script" else None,
            )
            page.goto(url)
            page.wait_for_function(WAIT_MARK, arg=["evaluation-painted", 0], timeout=120_000)
            cold.append(page.evaluate(MARK_AFTER, ["evaluation-painted", 0]))
            if i == 0:
                page.locator("[data-testid=confusion]").wait_for()
                chunks = {u: b for u, b in bodies.items() if u.startswith(server.url)}
            context.close()
        print(
            f"evaluation view first paint, cold (navigation start -> evaluation-painted; load {load_average()}): "
            f"{', '.join(f'{t:.0f}' for t in cold)} ms"
        )
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.add_init_script(INIT)
        opened = []
        for _ in range(args.repeat):
            page.goto(f"{server.url}/datasets/{ds}?run={RUN}")
            page.wait_for_function(WAIT_MARK, arg=["grid-painted", 0], timeout=120_000)
            t0 = page.evaluate("performance.now()")
            page.get_by_test_id("nav-evaluation").click()
            page.wait_for_function(WAIT_MARK, arg=["evaluation-painted", t0], timeout=120_000)
            opened.append(page.evaluate(MARK_AFTER, ["evaluation-painted", t0]) - t0)
        print(
            f"evaluation view first paint, in the app (click on Evaluation -> evaluation-painted; load "
            f"{load_average()}): {', '.join(f'{t:.0f}' for t in opened)} ms"
        )
        context.close()
        browser.close()
    print("JavaScript loaded by the evaluation view (cold):")
    for u, body in sorted(chunks.items()):
        print(f"  {urlsplit(u).path}: {len(body) / 1024:.1f} KB raw, {len(gzip.compress(body, 9)) / 1024:.1f} KB gz")
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
