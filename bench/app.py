"""Benchmark: the browser app on the 100K-image / 1M-box dataset, in headless Chromium (a script, not a test).

    .venv/bin/python bench/make_coco.py      # once: bench/out/coco/annotations.json
    make ui                                  # the built app in app/webui
    .venv/bin/python bench/app.py [--state bench/out/page_boxes] [--rows 10000] [--rows-per-frame 10]
                                  [--profile] [--trace]

The dataset and two prediction runs are imported as bench/page_boxes.py does (same --state, so either script
reuses the other's import). Figures come from the browser's Performance API: the app marks
`grid-painted` when the first screen of the grid has rendered (every visible cell in, its boxes drawn on its
row's canvas, its thumbnail loaded or failed) and `grid-updated` when the screen after a filter change has;
`grid-painted:boxes` / `grid-updated:boxes` when the cells and boxes are drawn, before the thumbnails are in.
Printed, with the machine's load average:
- first grid paint: cold (a new browser context opening the dataset's URL: navigation start to the mark,
  JS download and parse included) and in the app (click on the dataset in the list to the mark);
- filter change to the new grid (URL change to `grid-updated`), for a few filters, with when the boxes were
  drawn and each API request's sent -> first byte -> last byte (Resource Timing) and the thumbnails' span;
- scrolling N rows (default 10,000) at a fixed speed: long tasks over 50 ms and frame time p50/p95 (from
  requestAnimationFrame timestamps), plus the sample pages and thumbnails requested and cancelled meanwhile;
- initial JavaScript: the scripts loaded for the first paint, raw and gzipped (level 9);
- API requests for the first screen: samples pages, thumbnails, anything else.
The benchmark COCO file comes without image files: before the server starts, one JPEG per image size is made
and hard-linked under every file name of the COCO file, in the folder the dataset's samples point at (read from
the DuckDB file; a database imported in another worktree is re-pointed at this one's --coco folder first). That
folder is the server's data root (--data-root to serve real images from elsewhere instead), so thumbnails are
made (server) and decoded (browser) as for a real dataset. Every thumbnail response is counted by status; the
run fails (exit 1) when any of them is not 2xx/304: a benchmark that measures error replies measures nothing.
--profile samples the JS profiler (CDP) over the filter changes and the scroll and prints the top self-time
functions of each stretch of main-thread work over 50 ms; --trace records a Chromium trace of each and prints
the main thread's top events by self time and its longest tasks (both slow the page: figures taken with them
are for finding causes, not for comparing).
Targets (issue 12): first paint <= 1.0 s, filter change <= 300 ms, no long task > 50 ms and frame p95 <= 33 ms
while scrolling 10,000 rows, initial JS <= 250 KB gzipped, 1 samples request per screen plus thumbnails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as st
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average  # noqa: E402
from bench.harness import (  # noqa: E402
    MARK_AFTER,
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

    thumbnail_status: Counter[int] = Counter()  # every page's thumbnail responses, by HTTP status

    def __init__(self, page) -> None:  # noqa: ANN001
        self.log: list[tuple[float, str, str]] = []
        self.failed: list[str] = []
        page.on("request", lambda r: self.log.append((time.perf_counter(), r.url, r.resource_type)))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("response", self._response)

    def _response(self, response) -> None:  # noqa: ANN001
        if self.kind(response.url, response.request.resource_type) == "thumbnail":
            Requests.thumbnail_status[response.status] += 1

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


class Profile:
    """The V8 sampling profiler over CDP while a block runs: the stretches of back-to-back JS samples over 50 ms
    (what a long task is made of, in the profiler's clock) with their top self-time functions."""

    def __init__(self, page, enabled: bool) -> None:  # noqa: ANN001
        self.cdp = page.context.new_cdp_session(page) if enabled else None
        if self.cdp:
            self.cdp.send("Profiler.enable")
            self.cdp.send("Profiler.setSamplingInterval", {"interval": 200})  # µs

    def __enter__(self) -> Profile:
        if self.cdp:
            self.cdp.send("Profiler.start")
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.cdp:
            return
        profile = self.cdp.send("Profiler.stop")["profile"]
        nodes = {n["id"]: n for n in profile["nodes"]}
        t = float(profile["startTime"])
        stretches: list[tuple[float, float, list[int]]] = []  # start µs, end µs, sampled node ids
        current: list[int] = []
        start = t
        for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=False):
            t += delta
            name = nodes[node_id]["callFrame"]["functionName"]
            if name == "(idle)":
                if current and t - start > 50_000:
                    stretches.append((start, t, current))
                current = []
                continue
            if not current:
                start = t
            current.append(node_id)
        if current and t - start > 50_000:
            stretches.append((start, t, current))
        origin = float(profile["startTime"])
        print(f"  profile: {len(stretches)} stretch(es) of main-thread work over 50 ms")
        for begin, end, ids in stretches:
            per = (end - begin) / 1000 / max(len(ids), 1)
            selfs: dict[str, float] = {}
            for i in ids:
                f = nodes[i]["callFrame"]
                where = f"{f['functionName'] or '(anonymous)'} {urlsplit(f['url']).path.rsplit('/', 1)[-1]}"
                where += f":{f['lineNumber'] + 1}:{f['columnNumber'] + 1}" if f["url"] else ""
                selfs[where] = selfs.get(where, 0.0) + per
            top = sorted(selfs.items(), key=lambda kv: -kv[1])[:8]
            made = "; ".join(f"{k} {v:.0f}" for k, v in top)
            print(f"    at +{(begin - origin) / 1000:.0f} ms, {(end - begin) / 1000:.0f} ms: {made}")


# Resource Timing of the requests started since `after` (ms since navigation start), and the marks the app set
TIMELINE = """
(after) => [
  ...performance.getEntriesByType('resource').filter((e) => e.startTime >= after && e.name.includes('/api/')
    && !e.name.includes('/images/')).map((e) => [new URL(e.name).pathname.split('/').pop(), e.startTime - after,
    e.responseStart - after, e.responseEnd - after, e.encodedBodySize]),
]
"""


THUMBNAILS = """
(after) => {
  const l = performance.getEntriesByType('resource').filter((e) => e.startTime >= after && e.name.includes('/images/'));
  if (!l.length) return null;
  return [l.length, Math.min(...l.map((e) => e.startTime)) - after, Math.max(...l.map((e) => e.responseEnd)) - after];
}
"""


def timeline(page, t0: float) -> str:  # noqa: ANN001
    """Each API request after t0 (images aside): sent -> first byte -> last byte, ms after t0, and its size; then
    the thumbnails': first sent -> last answered."""
    requests = page.evaluate(TIMELINE, t0)
    parts = [f"{name} {s:.0f}->{b:.0f}->{e:.0f} ms ({size / 1024:.0f} KB)" for name, s, b, e, size in requests]
    thumbs = page.evaluate(THUMBNAILS, t0)
    text = "requests: " + ("; ".join(parts) if parts else "none (cached)")
    return text + (f"; {thumbs[0]} thumbnails {thumbs[1]:.0f}->{thumbs[2]:.0f} ms" if thumbs else "")


class Trace:
    """A Chromium trace (devtools.timeline) while a block runs; prints the renderer main thread's busiest events by
    self time, and its longest tasks with what they were made of."""

    CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink.user_timing"]

    def __init__(self, browser, page, enabled: bool, title: str) -> None:  # noqa: ANN001
        self.browser, self.page, self.enabled, self.title = browser, page, enabled, title

    def __enter__(self) -> Trace:
        if self.enabled:
            self.browser.start_tracing(page=self.page, categories=self.CATEGORIES)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        import json

        events = json.loads(self.browser.stop_tracing())["traceEvents"]
        names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("name") == "thread_name"}
        main = [k for k, v in names.items() if v == "CrRendererMain"]
        by_thread: dict[tuple, list[dict]] = {}
        for e in events:
            if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in main:
                by_thread.setdefault((e["pid"], e["tid"]), []).append(e)
        selfs: dict[str, float] = {}
        tasks: list[tuple[float, float, dict[str, float]]] = []
        for evs in by_thread.values():
            evs.sort(key=lambda e: (e["ts"], -e["dur"]))
            stack: list[list] = []  # [event, child time]
            task: list = []
            for e in evs:
                while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= e["ts"]:
                    done, child = stack.pop()
                    selfs[done["name"]] = selfs.get(done["name"], 0.0) + (done["dur"] - child) / 1000
                    if task and stack:
                        task[2][done["name"]] = task[2].get(done["name"], 0.0) + (done["dur"] - child) / 1000
                if stack:
                    stack[-1][1] += e["dur"]
                elif e["dur"] > 50_000:  # a top-level task over 50 ms
                    task = [e["ts"], e["dur"] / 1000, {}]
                    tasks.append(task)
                else:
                    task = []
                stack.append([e, 0.0])
            while stack:
                done, child = stack.pop()
                selfs[done["name"]] = selfs.get(done["name"], 0.0) + (done["dur"] - child) / 1000
        top = sorted(selfs.items(), key=lambda kv: -kv[1])[:12]
        print(f"  trace of {self.title}: main thread self time " + "; ".join(f"{k} {v:.0f}" for k, v in top) + " ms")
        for _, dur, parts in sorted(tasks, key=lambda t: -t[1])[:6]:
            made = sorted(parts.items(), key=lambda kv: -kv[1])[:6]
            print(f"    task {dur:.0f} ms: " + "; ".join(f"{k} {v:.0f}" for k, v in made))


def stored_images_dir(state: Path) -> Path | None:
    """The folder the benchmark dataset's samples point at, as the DuckDB file states it (None: not imported)."""
    db = state / "datavisor.duckdb"
    if not db.is_file():
        return None
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT images_dir FROM datasets WHERE name = 'bench-boxes'").fetchone()
    finally:
        con.close()
    return Path(row[0]) if row and row[0] else None


def repoint(state: Path, old: Path, new: Path) -> None:
    """Re-point a database imported elsewhere (the bench data is imported once and copied) at `new`."""
    import duckdb

    con = duckdb.connect(str(state / "datavisor.duckdb"))
    try:
        ds = con.execute("SELECT id FROM datasets WHERE name = 'bench-boxes'").fetchone()[0]
        prefix, to = f"{old}/", f"{new}/"
        con.execute(
            "UPDATE samples SET path = ? || path[length(?) + 1:] WHERE dataset_id = ? AND starts_with(path, ?)",
            [to, prefix, ds, prefix],
        )
        con.execute(
            "UPDATE datasets SET images_dir = ?, path = ? || path[length(?) + 1:] WHERE id = ?",
            [str(new), to, prefix, ds],
        )
        left = con.execute(
            "SELECT count(*) FROM samples WHERE dataset_id = ? AND NOT starts_with(path, ?)", [ds, to]
        ).fetchone()[0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if left:
        raise SystemExit(f"{state}: {left} samples of bench-boxes are not under {old}; cannot re-point them")
    print(f"re-pointed the dataset's image paths from {old} to {new}")


def write_images(coco: Path, folder: Path) -> None:
    """One JPEG per image size of the COCO file (a photo scaled to it), hard-linked under every file name."""
    data = json.loads(coco.read_text())
    missing = [im for im in data["images"] if not (folder / im["file_name"]).is_file()]
    if not missing:
        return
    from PIL import Image

    from tests.support.datasets import write_photo

    started = time.perf_counter()
    originals = folder / "_sizes"
    photo = write_photo(originals / "photo.png")
    sources: dict[tuple[int, int], Path] = {}
    for im in missing:
        size = (im["width"], im["height"])
        if size not in sources:
            sources[size] = originals / f"{size[0]}x{size[1]}.jpg"
            with Image.open(photo) as src:
                src.convert("RGB").resize(size).save(sources[size], quality=85)
        target = folder / im["file_name"]
        target.unlink(missing_ok=True)
        os.link(sources[size], target)
    print(
        f"wrote {len(missing)} image files ({len(sources)} sizes, hard links) in {time.perf_counter() - started:.1f} s"
    )


def data_root(args: argparse.Namespace) -> Path:
    """The folder the dataset's images are in, with its files present: the server's data root."""
    if args.data_root is not None:
        return args.data_root.resolve()
    folder = args.coco.resolve().parent
    stored = stored_images_dir(args.state.resolve())
    if stored is not None and stored.resolve() != folder:
        repoint(args.state.resolve(), stored, folder)
    write_images(args.coco.resolve(), folder)
    return folder


def check_thumbnails() -> None:
    """Fail the run unless thumbnails were requested and every one answered 2xx or 304."""
    status = Requests.thumbnail_status
    print("thumbnail responses by status: " + (", ".join(f"{k}: {v}" for k, v in sorted(status.items())) or "none"))
    bad = {k: v for k, v in status.items() if not (200 <= k < 300 or k == 304)}
    if bad or not status:
        what = f"{sum(bad.values())} thumbnail(s) answered {sorted(bad)}" if bad else "no thumbnail was answered"
        print(f"FAILED: {what}; the figures above measured error replies, not the app", file=sys.stderr)
        raise SystemExit(1)


def app_url(server: Server, dataset_id: int, **params: str) -> str:
    query = "&".join([*(f"show={run}" for run in RUNS), *(f"{k}={v}" for k, v in params.items())])
    return f"{server.url}/datasets/{dataset_id}?{query}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_args(parser)
    parser.add_argument("--rows", type=int, default=10_000, help="rows to scroll")
    parser.add_argument("--rows-per-frame", type=float, default=10.0, help="scroll speed")
    parser.add_argument("--repeat", type=int, default=3, help="cold and in-app first paints to take")
    parser.add_argument(
        "--data-root",
        type=Path,
        help="the folder holding the dataset's images (served as they are); by default the --coco folder, with "
        "synthetic JPEGs written there and the database's paths re-pointed at it",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the JS profiler (CDP) during the filter changes and the scroll; print the top self-time "
        "functions of every stretch of main-thread work over 50 ms",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="record a Chromium trace of the filter changes and of the scroll; print the renderer main thread's "
        "top self-time events (layout, paint, script, GC...)",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = data_root(args)
    with (
        benchmark_server(args, app=True, data_roots=str(root)) as (server, client, dataset_id),
        sync_playwright() as pw,
    ):
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
        profile = Profile(page, args.profile)
        trace = Trace(browser, page, args.trace, "the filter changes")
        trace.__enter__()
        for label, params in FILTERS:
            start = requests.mark()
            path = urlsplit(app_url(server, dataset_id, **params))
            with profile:
                t0 = page.evaluate(
                    "(url) => { const t = performance.now(); history.pushState(null, '', url);"
                    " dispatchEvent(new PopStateEvent('popstate')); return t; }",
                    f"{path.path}?{path.query}",
                )
                took = wait_mark(page, "grid-updated", t0, timeout=60_000) - t0
            total = page.locator('[data-testid="total"]').inner_text()
            print(f"  {label:<44} {took:6.0f} ms   ({total.strip()}; requests {requests.since(start)})")
            boxes = page.evaluate(MARK_AFTER, ["grid-updated:boxes", t0]) - t0
            print(f"    boxes drawn at {boxes:.0f} ms; {timeline(page, t0)}")

        trace.__exit__()

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
        with Profile(page, args.profile) as profile, Trace(browser, page, args.trace, "the scroll"):
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
        entries = page.evaluate("window.__long")[long0:]
        at = ", ".join(f"{d:.0f} ms at +{s - t0:.0f}" for s, d in entries if s >= t0 and d > 50)
        print(
            f"  long tasks > 50 ms: {sum(d > 50 for d in long_tasks)} {'(' + at + ') ' if at else ''}"
            f"(longest {max(long_tasks, default=0):.0f} ms); "
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
    check_thumbnails()


if __name__ == "__main__":
    main()
