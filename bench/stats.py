"""Benchmark: the statistics view's aggregates on the 100K-image / 1M-box dataset, over HTTP (a script, not a test).

    .venv/bin/python bench/make_coco.py      # once: bench/out/coco/annotations.json
    .venv/bin/python bench/stats.py [--state bench/out/page_boxes] [--rounds 30]

The dataset is imported as bench/page_boxes.py does (same --state: either script reuses the other's import).
For each filter the view sends, prints p50 and p95 of the existing replies (`/facets`, `/statistics`) and of
the one the statistics view adds (`/statistics/distributions`), with the machine's load average. The target:
distributions stay within the latency of the existing facets/statistics for the same filter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import load_average, percentiles, timed  # noqa: E402
from bench.harness import add_dataset_args, benchmark_server  # noqa: E402

FILTERS = [
    ("no filter", {}),
    ("category=class_07", {"category": "class_07"}),
    ("min_annotations=14", {"min_annotations": 14}),
    ("search=0001 + category=class_33", {"search": "0001", "category": "class_33"}),
]
ENDPOINTS = ("facets", "statistics", "statistics/distributions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_args(parser)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with benchmark_server(args) as (_, client, ds):
        counts = client.get(f"/datasets/{ds}").json()["counts"]
        print(f"dataset {ds}: {counts['samples']} samples, {counts['annotations']} boxes; load {load_average()}")
        print(f"HTTP on loopback, end to end, {args.rounds} rounds each:")
        for label, params in FILTERS:
            for endpoint in ENDPOINTS:
                url = f"/datasets/{ds}/{endpoint}"
                client.get(url, params=params).raise_for_status()  # warm: DuckDB's caches, the summary

                def one(_: int, url: str = url, params: dict = params) -> None:
                    client.get(url, params=params).raise_for_status()

                print(f"  {label:<34} {endpoint:<26} {percentiles(timed(one, args.rounds))}")
        print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
