"""Dataset benchmark: import a 100K-image / 1M-box COCO file, then query latency over it.

    .venv/bin/python bench/make_coco.py            # once: bench/out/coco/annotations.json
    .venv/bin/python bench/datasets.py [--rounds 50]

Prints: import wall time (POST /datasets to job end) and the server's peak RSS (VmHWM); then p50/p95
of a filtered + sorted samples page, of facets and of statistics, measured twice: server-side (the
service functions timed inside a process holding the same DuckDB file, after the server stopped)
and end to end over HTTP on loopback (server running). The machine's load average is printed with
them: on a shared 2-core machine wall-clock figures grow with it, the CPU-time column does not.
Targets: import <= 20 s, peak RSS <= 2 GB, samples page p50 <= 15 ms, facets and statistics p50 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import Server  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = st.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {p50 * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"


def timed(fn: Callable[[int], object], rounds: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    fn(0)  # warm up
    out = []
    for i in range(rounds):
        started = clock()
        fn(i)
        out.append(clock() - started)
    return out


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


PAGE = {"category": "class_07", "min_annotations": 8, "sort_by": "file_name", "sort_dir": "desc", "limit": 50}
LIVE = {"min_annotations": 12}  # any filter but split is aggregated live (no import summary)
CASES = [
    ("samples page: category + min_ann, file_name desc", "samples", PAGE),
    ("facets, unfiltered (import summary)", "facets", {}),
    ("facets, min_annotations=12 (live)", "facets", LIVE),
    ("statistics, unfiltered (import summary)", "statistics", {}),
    ("statistics, min_annotations=12 (live)", "statistics", LIVE),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coco", type=Path, default=ROOT / "bench/out/coco/annotations.json")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--no-plugins", action="store_true", help="import without the shipped plugins")
    args = parser.parse_args()
    coco = args.coco.resolve()
    if not coco.is_file():
        raise SystemExit(f"{coco} missing: run bench/make_coco.py first")

    with tempfile.TemporaryDirectory(prefix="datavisor-bench-") as tmp:
        # By default the shipped plugins run as deployed (brightness: one stat() per sample, no pixels here).
        plugins = {"plugin_dir": str(Path(tmp) / "none")} if args.no_plugins else {}
        server = Server(Path(tmp) / "state", data_roots=str(coco.parent), **plugins)
        with server:
            client = server.client(timeout=600)
            cpu_before = process_cpu_seconds(server.proc.pid)
            started = time.perf_counter()
            body = {"name": "bench", "format": "coco", "path": str(coco), "annotations_only": True}  # no image files
            accepted = client.post("/datasets", json=body)
            accepted.raise_for_status()
            job_id, dataset_id = accepted.json()["job_id"], accepted.json()["dataset_id"]
            while (job := client.get(f"/jobs/{job_id}").json())["state"] not in ("succeeded", "failed"):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            if job["state"] != "succeeded":
                raise SystemExit(f"import failed: {job['error']}")
            rss = peak_rss_mb(server.proc.pid)
            cpu = process_cpu_seconds(server.proc.pid) - cpu_before
            phases = [
                line.split(": ", 1)[1] for line in server.log().splitlines() if "app.services.datasets: import" in line
            ]
            info = client.get(f"/datasets/{dataset_id}").json()["counts"]
            print(
                f"import: {info['samples']} samples, {info['annotations']} boxes in {elapsed:.2f} s "
                f"({info['samples'] / elapsed:,.0f} samples/s); server peak RSS {rss:,.0f} MB; "
                f"plugins {'off' if args.no_plugins else 'as shipped'}; load {load_average()}"
            )
            print(f"  server CPU time during the import {cpu:.2f} s; phases: {phases[-1] if phases else '?'}")

            total = client.get(f"/datasets/{dataset_id}/samples", params=PAGE).json()["total"]
            print(f"HTTP on loopback, end to end (the filtered page matches {total} samples); load {load_average()}:")
            for label, route, params in CASES:
                url = f"/datasets/{dataset_id}/{route}"

                def call(i: int, url: str = url, params: dict = params, route: str = route) -> None:
                    paged = {**params, "offset": (i % 20) * 50} if route == "samples" else params
                    client.get(url, params=paged).raise_for_status()

                print(f"  {label:<44} {percentiles(timed(call, args.rounds))}")

        # Server-side: the same service calls in-process on the same file (the server has stopped).
        from app.db import Database
        from app.services import samples
        from app.services import stats as stats_service
        from app.services.query import SampleFilters, SampleQuery

        db = Database(server.db_path)
        db.open()
        try:
            print(
                "server-side (service functions in-process, same DuckDB file); wall clock, and CPU time of "
                f"the process (all DuckDB threads; what an idle machine needs at most); load {load_average()}:"
            )
            for label, route, params in CASES:
                if route == "samples":
                    queries = [SampleQuery(**params, offset=(i % 20) * 50) for i in range(20)]

                    def call(i: int, queries: list = queries) -> None:
                        samples.list_samples(db, dataset_id, queries[i % 20])
                else:
                    fn = getattr(stats_service, route)
                    filters = SampleFilters(**params)

                    def call(i: int, fn: Callable = fn, filters: SampleFilters = filters) -> None:
                        fn(db, dataset_id, filters)

                wall = percentiles(timed(call, args.rounds))
                cpu = percentiles(timed(call, args.rounds, time.process_time))
                print(f"  {label:<44} wall {wall}   | CPU {cpu}")
        finally:
            db.close()


if __name__ == "__main__":
    main()
