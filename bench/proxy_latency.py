"""Added latency of the reverse proxy for a small JSON route: p50 through Caddy vs. direct, same run.

Runs ON the host (the Molecule scenario `proxy` copies it into the instance and runs it there), with the
host's curl and Python's standard library only:

    python3 bench/proxy_latency.py --direct http://127.0.0.1:8000/health \\
        --proxy https://HOST/api/health --resolve HOST:443:127.0.0.1 --cacert ROOT.crt --user alice \\
        --password-file FILE [--requests 200]

Two ways of connecting, each measured with curl's own %{time_total} (process start-up excluded):
  * keep-alive: one curl process, N requests over one reused connection (HTTP/2 through the proxy);
  * new connection per request: N curl processes (TCP + TLS handshake + basic auth each time).
Prints one line per case and a final JSON line with every figure in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def curl_base(args: argparse.Namespace, netrc: str | None) -> list[str]:
    cmd = ["curl", "--silent", "--show-error", "--fail"]
    if netrc:  # credentials from a file, never on the command line
        cmd += ["--netrc-file", netrc]
    if args.cacert:
        cmd += ["--cacert", args.cacert]
    for resolve in args.resolve:
        cmd += ["--resolve", resolve]
    return cmd


def keepalive(url: str, n: int, base: list[str]) -> list[float]:
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as cfg:
        cfg.write("".join(f'url = "{url}"\noutput = "/dev/null"\n' for _ in range(n)))
    try:
        out = subprocess.run(
            [*base, "--config", cfg.name, "--write-out", "%{time_total}\\n"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(cfg.name)
    times = [float(line) * 1000 for line in out.split()]
    if len(times) != n:
        raise SystemExit(f"expected {n} timings from curl, got {len(times)}")
    return times


def fresh(url: str, n: int, base: list[str]) -> list[float]:
    times = []
    for _ in range(n):
        out = subprocess.run(
            [*base, "--output", "/dev/null", "--write-out", "%{time_total}", url],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(out.stdout) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(times), 3),
        "p90": round(percentile(times, 0.90), 3),
        "p99": round(percentile(times, 0.99), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--direct", required=True, help="the backend's own URL of the route")
    parser.add_argument("--proxy", required=True, help="the same route through the proxy")
    parser.add_argument("--resolve", action="append", default=[], help="curl --resolve HOST:PORT:ADDR")
    parser.add_argument("--cacert", help="CA certificate that signs the proxy's certificate")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True, help="file holding the password (one line)")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with open(args.password_file) as fh:
        password = fh.read().strip()
    host = args.proxy.split("/")[2].split(":")[0]
    with tempfile.NamedTemporaryFile("w", suffix=".netrc", delete=False) as netrc:
        netrc.write(f"machine {host} login {args.user} password {password}\n")
    try:
        direct_base, proxy_base = curl_base(args, None), curl_base(args, netrc.name)
        # Warm-up: the proxy's first check of a password runs bcrypt; later ones hit its cache.
        fresh(args.proxy, 3, proxy_base)
        fresh(args.direct, 3, direct_base)
        n = args.requests
        results = {
            "requests": n,
            "keepalive": {
                "direct": summary(keepalive(args.direct, n, direct_base)),
                "proxy": summary(keepalive(args.proxy, n, proxy_base)),
            },
            "new_connection": {
                "direct": summary(fresh(args.direct, n, direct_base)),
                "proxy": summary(fresh(args.proxy, n, proxy_base)),
            },
        }
    finally:
        os.unlink(netrc.name)
    for case in ("keepalive", "new_connection"):
        d, p = results[case]["direct"], results[case]["proxy"]
        results[case]["added_p50"] = round(p["p50"] - d["p50"], 3)
        print(
            f"{case:15s} direct p50 {d['p50']:7.2f} ms p90 {d['p90']:7.2f} | proxy p50 {p['p50']:7.2f} ms "
            f"p90 {p['p90']:7.2f} | added p50 {results[case]['added_p50']:+.2f} ms  ({n} requests each)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
