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
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average, percentiles, timed  # noqa: E402
from bench.harness import (  # noqa: E402
    add_dataset_args,
    benchmark_server,
    cold_paints,
    launch,
    new_page,
    print_scripts,
    wait_mark,
)

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
    add_dataset_args(parser)
    parser.add_argument("--repeat", type=int, default=3, help="cold and in-app first paints to take")
    parser.add_argument("--rounds", type=int, default=10, help="API calls per reply")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with benchmark_server(args, timeout=1800, app=True) as (server, client, ds), sync_playwright() as pw:
        predictions = {r["run"]: r["predictions"] for r in client.get(f"/datasets/{ds}/predictions").json()}
        counts = client.get(f"/datasets/{ds}").json()["counts"]
        print(
            f"dataset {ds}: {counts['samples']:,} samples, {counts['annotations']:,} ground-truth boxes; "
            f"run {RUN}: {predictions[RUN]:,} predictions; load {load_average()}"
        )
        api_figures(client, ds, args.rounds)
        client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": RUN}).raise_for_status()

        browser = launch(pw)
        url = f"{server.url}/datasets/{ds}/evaluation?run={RUN}"
        cold, chunks = cold_paints(
            browser,
            url,
            "evaluation-painted",
            args.repeat,
            first=lambda page, _: page.locator("[data-testid=confusion]").wait_for(),
        )
        print(
            f"evaluation view first paint, cold (navigation start -> evaluation-painted; load {load_average()}): "
            f"{', '.join(f'{t:.0f}' for t in cold)} ms"
        )
        context, page = new_page(browser)
        opened = []
        for _ in range(args.repeat):
            page.goto(f"{server.url}/datasets/{ds}?run={RUN}")
            wait_mark(page, "grid-painted")
            t0 = page.evaluate("performance.now()")
            page.get_by_test_id("nav-evaluation").click()
            opened.append(wait_mark(page, "evaluation-painted", t0) - t0)
        print(
            f"evaluation view first paint, in the app (click on Evaluation -> evaluation-painted; load "
            f"{load_average()}): {', '.join(f'{t:.0f}' for t in opened)} ms"
        )
        context.close()
        browser.close()
    print_scripts("JavaScript loaded by the evaluation view (cold)", chunks)
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
