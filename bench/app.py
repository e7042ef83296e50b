"""Benchmark: the browser app on the 100K-image / 1M-box dataset, in headless Chromium (a script, not a test).

    .venv/bin/python bench/make_coco.py      # once: bench/out/coco/annotations.json
    make ui                                  # the built app in app/webui
    .venv/bin/python bench/app.py [--state bench/out/page_boxes] [--rows 10000] [--rows-per-frame 10]

The dataset and two prediction runs are imported as bench/page_boxes.py does (same --state, so either script
reuses the other's import). Figures come from the browser's Performance API: the app marks
`grid-painted` when the first screen of the grid (thumbnails and boxes) has rendered and `grid-updated`
when the grid after a filter change has. Printed, with the machine's load average:
- first grid paint: cold (a new browser context opening the dataset's URL: navigation start to the mark,
  JS download and parse included) and in the app (click on the dataset in the list to the mark);
- filter change to the new grid (URL change to `grid-updated`), for a few filters;
- scrolling N rows (default 10,000) at a fixed speed: long tasks over 50 ms and frame time p50/p95 (from
  requestAnimationFrame timestamps), plus the sample pages and thumbnails requested and cancelled meanwhile;
- initial JavaScript: the scripts loaded for the first paint, raw and gzipped (level 9);
- API requests for the first screen: samples pages, thumbnails, anything else.
The benchmark COCO file has no image files: thumbnails answer 404 quickly, so image decoding is not in these
figures (the boxes are: they are drawn over the empty cells).
Targets (issue 12): first paint <= 1.0 s, filter change <= 300 ms, no long task > 50 ms and frame p95 <= 33 ms
while scrolling 10,000 rows, initial JS <= 250 KB gzipped, 1 samples request per screen plus thumbnails.
"""

from __future__ import annotations

import argparse
import statistics as st
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average  # noqa: E402
from bench.harness import (  # noqa: E402
    RUNS,
    VIEWPORT,
    add_dataset_args,
    benchmark_server,
    cold_paints,
    launch,
    new_page,
    print_scripts,
    wait_mark,
)
from tests.support.server import Server  # noqa: E402

FILTERS = [
    ("category=class_07", {"category": "class_07"}),
    ("min boxes 14", {"min": "14"}),
    ("category=class_33 + sort file_name desc", {"category": "class_33", "sort": "file_name", "dir": "desc"}),
    ("no filter", {}),
]
# Scrolls the grid by `step` px per animation frame over `distance` px; returns the frame timestamps.
SCROLL = """
async ([distance, step]) => {
  const grid = document.querySelector('[data-testid="grid"]');
  const stamps = [];
  await new Promise((done) => {
    const frame = (t) => {
      stamps.push(t);
      if (grid.scrollTop >= distance || grid.scrollTop + grid.clientHeight >= grid.scrollHeight - 1) return done();
      grid.scrollTop = grid.scrollTop + step;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  return {stamps, top: grid.scrollTop};
}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


class Requests:
    """Every request of a page, by kind: samples pages, thumbnails (images), other API calls, scripts."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.log: list[tuple[float, str, str]] = []
        self.failed: list[str] = []
        page.on("request", lambda r: self.log.append((time.perf_counter(), r.url, r.resource_type)))
        page.on("requestfailed", lambda r: self.failed.append(r.url))

    def mark(self) -> int:
        return len(self.log)

    @staticmethod
    def kind(url: str, resource_type: str) -> str:
        path = urlsplit(url).path
        if resource_type == "script":
            return "script"
        if path.startswith("/api/images/") or path.startswith("/api/samples/") and path.endswith("/thumbnail"):
            return "thumbnail"
        if path.startswith("/api/datasets/") and path.endswith("/samples"):
            return "samples"
        if path.startswith("/api/"):
            return "api:" + path
        return f"{resource_type}:{path}"

    def since(self, start: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, url, resource_type in self.log[start:]:
            k = self.kind(url, resource_type)
            counts[k] = counts.get(k, 0) + 1
        return counts


def app_url(server: Server, dataset_id: int, **params: str) -> str:
    query = "&".join([*(f"show={run}" for run in RUNS), *(f"{k}={v}" for k, v in params.items())])
    return f"{server.url}/datasets/{dataset_id}?{query}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_args(parser)
    parser.add_argument("--rows", type=int, default=10_000, help="rows to scroll")
    parser.add_argument("--rows-per-frame", type=float, default=10.0, help="scroll speed")
    parser.add_argument("--repeat", type=int, default=3, help="cold and in-app first paints to take")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with benchmark_server(args, app=True) as (server, client, dataset_id), sync_playwright() as pw:
        counts = client.get(f"/datasets/{dataset_id}").json()["counts"]
        browser = launch(pw)
        print(
            f"dataset {dataset_id}: {counts['samples']} samples, {counts['annotations']} ground-truth boxes, "
            f"runs {', '.join(RUNS)} drawn; Chromium {browser.version}, viewport {VIEWPORT['width']}x"
            f"{VIEWPORT['height']}; load {load_average()}"
        )

        # -- first grid paint, cold: a fresh context (no cache) opens the dataset's URL --------------------
        first_screen: dict[str, int] = {}

        def count_requests(page, requests: Requests) -> None:  # noqa: ANN001
            page.wait_for_timeout(500)  # let late requests of the first screen show up
            first_screen.update(requests.since(0))

        url = app_url(server, dataset_id)
        cold, scripts = cold_paints(browser, url, "grid-painted", args.repeat, before=Requests, first=count_requests)
        print(f"first grid paint, cold (navigation start -> grid-painted): {', '.join(f'{t:.0f}' for t in cold)} ms")

        # -- first grid paint from the datasets list, and the rest, in one context ------------------------
        context, page = new_page(browser)
        requests = Requests(page)
        opened = []
        for _ in range(args.repeat):
            page.goto(f"{server.url}/")
            link = page.locator(f'a[href="/datasets/{dataset_id}"]').first
            link.wait_for(timeout=60_000)
            t0 = page.evaluate("performance.now()")
            link.click()
            opened.append(wait_mark(page, "grid-painted", t0) - t0)
        shown = ", ".join(f"{t:.0f}" for t in opened)
        print(f"first grid paint, in the app (click on the dataset -> grid-painted): {shown} ms")

        # -- filter changes: the URL changes (as the sidebar does), the grid updates ----------------------
        page.goto(app_url(server, dataset_id))
        wait_mark(page, "grid-painted")
        print(f"filter change -> grid-updated (load {load_average()}):")
        for label, params in FILTERS:
            start = requests.mark()
            path = urlsplit(app_url(server, dataset_id, **params))
            t0 = page.evaluate(
                "(url) => { const t = performance.now(); history.pushState(null, '', url);"
                " dispatchEvent(new PopStateEvent('popstate')); return t; }",
                f"{path.path}?{path.query}",
            )
            took = wait_mark(page, "grid-updated", t0, timeout=60_000) - t0
            total = page.locator('[data-testid="total"]').inner_text()
            print(f"  {label:<44} {took:6.0f} ms   ({total.strip()}; requests {requests.since(start)})")

        # -- scrolling ------------------------------------------------------------------------------------
        grid = page.locator('[data-testid="grid"]')
        rows = int(grid.get_attribute("aria-rowcount") or 0)
        height = page.evaluate("document.querySelector('[data-testid=\"grid\"]').scrollHeight")
        row_height = height / max(rows, 1)
        distance = min(args.rows, rows) * row_height
        step = args.rows_per_frame * row_height
        start, failed0 = requests.mark(), len(requests.failed)
        long0 = page.evaluate("window.__long.length")
        t0 = page.evaluate("performance.now()")
        result = page.evaluate(SCROLL, [distance, step])
        long_tasks = [d for s, d in page.evaluate("window.__long")[long0:] if s >= t0]
        stamps = result["stamps"]
        frames = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        scrolled = result["top"] / row_height
        seconds = (stamps[-1] - stamps[0]) / 1000 if len(stamps) > 1 else 0.0
        cancelled = [u for u in requests.failed[failed0:] if Requests.kind(u, "") in ("samples", "thumbnail")]
        print(
            f"scrolling {scrolled:,.0f} of {rows:,} rows ({row_height:.0f} px each, {args.rows_per_frame:g} rows per "
            f"frame) in {seconds:.1f} s; load {load_average()}:"
        )
        print(
            f"  long tasks > 50 ms: {sum(d > 50 for d in long_tasks)} (longest {max(long_tasks, default=0):.0f} ms); "
            f"frame time p50 {st.median(frames) if frames else float('nan'):.1f} ms, p95 {pct(frames, 0.95):.1f} ms, "
            f"max {max(frames, default=float('nan')):.1f} ms over {len(frames)} frames"
        )
        print(f"  requests meanwhile {requests.since(start)}; cancelled (samples or thumbnails) {len(cancelled)}")
        dom = page.evaluate("document.querySelectorAll('[data-testid=\"grid\"] *').length")
        print(f"  DOM nodes inside the grid after the scroll: {dom}")
        context.close()
        browser.close()

    print_scripts("initial JavaScript", scripts)
    print(f"API requests for the first screen (cold open): {first_screen}")
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
