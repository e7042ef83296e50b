"""Benchmark: a grid page of 100 samples *with their boxes* (ground truth + two prediction runs), one request.

    .venv/bin/python bench/make_coco.py            # once: bench/out/coco/annotations.json (100K images, 1M boxes)
    .venv/bin/python bench/page_boxes.py [--rounds 50] [--state bench/out/page_boxes]

Writes two synthetic prediction runs next to the COCO file (jittered copies of ~90 % of the ground truth plus
background boxes, 1M predictions each; `det_a` in image order as detectors write them, `det_b` shuffled),
imports the dataset and both runs into a server (kept in --state, so a second run skips the imports), then
prints p50/p95 of GET /api/datasets/{id}/samples?limit=100&boxes=true&runs=det_a&runs=det_b:
- server-side: what the route does (the service call, which returns the reply's JSON bytes), in-process on
  the same DuckDB file after the server stopped (wall clock and process CPU time), with and without boxes;
- end to end over HTTP on loopback, and, for comparison, the old way: the page plus one /samples/{id} per item.
Pages walk through the dataset (different offsets each round) in id order and with a sort + filter.
Target: p50 <= 20 ms server-side. The machine's load average is printed with every block.

Then the facets a filter change asks for (GET /api/datasets/{id}/facets), server-side in-process: no filter;
one category filter, a new category each call (nothing of that filter kept); the same category again (its
matching ids kept, as after the page of the same filter); and the first category filter after a write
(everything read again). Target: one category filter p50 <= 30 ms. --facets-only skips the pages.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average, percentiles, process_cpu_seconds, timed  # noqa: E402
from bench.harness import RUNS, add_dataset_args, benchmark_server  # noqa: E402

LIMIT = 100
PAGES = [
    ("id order", {}),
    ("category + sort file_name desc", {"category": "class_07", "sort_by": "file_name", "sort_dir": "desc"}),
    ("sort annotation_count desc", {"sort_by": "annotation_count", "sort_dir": "desc"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_args(parser)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--facets-only", action="store_true", help="only the facets block")
    args = parser.parse_args()
    if args.facets_only:
        with benchmark_server(args) as (server, client, dataset_id):
            pass  # the import, if it is not there yet
        return facets_block(server.db_path, dataset_id, args.rounds)
    with benchmark_server(args) as (server, client, dataset_id):
        counts = client.get(f"/datasets/{dataset_id}").json()["counts"]
        url = f"/datasets/{dataset_id}/samples"
        boxes = {"boxes": "true", "runs": list(RUNS), "limit": LIMIT}
        body = client.get(url, params=boxes).json()
        n_boxes = len(body["boxes"]["id"])
        print(
            f"dataset: {counts['samples']} samples, {counts['annotations']} ground-truth boxes, "
            f"runs {', '.join(RUNS)}; "
            f"a page of {LIMIT} carries {n_boxes} boxes"
        )
        print(f"HTTP on loopback, end to end; load {load_average()}:")
        cpu0 = process_cpu_seconds(server.proc.pid)
        for label, extra in PAGES:

            def one(i: int, extra: dict = extra) -> None:
                client.get(url, params={**boxes, **extra, "offset": (i % 50) * LIMIT}).raise_for_status()

            print(f"  page + boxes, {label:<34} {percentiles(timed(one, args.rounds))}")

        def old_way(i: int) -> None:
            page = client.get(url, params={"limit": LIMIT, "offset": (i % 50) * LIMIT}).json()
            for item in page["items"]:
                client.get(f"/samples/{item['id']}").raise_for_status()

        rounds = max(3, args.rounds // 10)
        before = percentiles(timed(old_way, rounds))
        print(f"  before: page + {LIMIT} x /samples/{{id}} ({LIMIT + 1} requests) {before}")
        print(f"  server CPU time for all of the above {process_cpu_seconds(server.proc.pid) - cpu0:.2f} s")

    from app.db import Database
    from app.services import samples
    from app.services.query import SampleQuery

    db = Database(server.db_path)
    db.open()
    try:
        print(
            "server-side (service call returning the reply's JSON, in-process on the same file); wall clock and "
            f"process CPU time; load {load_average()}:"
        )
        for label, extra in PAGES:
            queries = [SampleQuery(**extra, limit=LIMIT, offset=(i % 50) * LIMIT) for i in range(50)]

            def call(i: int, queries: list = queries) -> None:
                samples.page_json(db, dataset_id, queries[i % 50], boxes=True, runs=RUNS)  # the reply's bytes

            wall = percentiles(timed(call, args.rounds))
            cpu = percentiles(timed(call, args.rounds, time.process_time))
            print(f"  page + boxes, {label:<34} wall {wall}   | CPU {cpu}")
        for label, extra in PAGES:
            queries = [SampleQuery(**extra, limit=LIMIT, offset=(i % 50) * LIMIT) for i in range(50)]

            def alone(i: int, queries: list = queries) -> None:
                samples.page_json(db, dataset_id, queries[i % 50])

            wall = percentiles(timed(alone, args.rounds))
            cpu = percentiles(timed(alone, args.rounds, time.process_time))
            print(f"  page alone (no boxes), {label:<26} wall {wall}   | CPU {cpu}")
    finally:
        db.close()
    facets_block(server.db_path, dataset_id, args.rounds)


def facets_block(db_path: Path, dataset_id: int, rounds: int) -> None:
    """Facets server-side (the service call the route makes), in-process on the file after the server stopped."""
    from app.db import Database
    from app.services import stats
    from app.services.query import SampleFilters

    db = Database(db_path)
    db.open()
    try:
        with db.cursor() as cur:
            names = [
                r[0] for r in cur.execute("SELECT name FROM categories WHERE dataset_id = ?", [dataset_id]).fetchall()
            ]
        print(f"facets, server-side (in-process); wall clock; load {load_average()}:")

        def facets(f: SampleFilters) -> None:
            stats.facets(db, dataset_id, f)

        print(f"  {'no filter':<52} {percentiles(timed(lambda i: facets(SampleFilters()), rounds))}")
        fresh = min(rounds, len(names) - 1)  # more categories than queries kept: each call is a new filter
        new = timed(lambda i: facets(SampleFilters(category=names[(i + 1) % len(names)])), fresh)
        print(f"  {'one category, a new one each call':<52} {percentiles(new)}")
        again = timed(lambda i: facets(SampleFilters(category=names[0])), rounds)
        print(f"  {'the same category again (its ids kept)':<52} {percentiles(again)}")
        after_write = []
        for i in range(max(3, rounds // 10)):
            with db.write():  # an empty write transaction: what is kept per generation is read again
                pass
            started = time.perf_counter()
            facets(SampleFilters(category=names[i % len(names)]))
            after_write.append(time.perf_counter() - started)
        print(f"  {'one category, first call after a write':<52} {percentiles(after_write)}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
