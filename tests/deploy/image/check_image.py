"""Prove a built backend image does what the deployment relies on. Run by `make image-test`.

    python3 tests/deploy/image/check_image.py IMAGE [--max-size-gb 1.5] [--stop-timeout 30]

Standard library only (it runs on the host before any venv exists). Every container it starts is named
`datavisor-imagecheck-<pid>-*` and removed at the end; traffic goes to a port published on 127.0.0.1
or through `docker exec`. Checks, in order:

1. the image: size (printed; fails above --max-size-gb), non-root user, port 8000, HEALTHCHECK,
   STOPSIGNAL, exec-form `datavisor serve` CMD whose uvicorn options (`datavisor config`) are one worker,
   the graceful timeout and no proxy trust; no env file read;
2. no CUDA: torch.version.cuda is None and no nvidia-*/cuda-*/triton distribution is installed;
3. a container on a bind-mounted state directory: /health and /ready answer, /ready reports the version of
   the image's label org.opencontainers.image.version, Docker's own HEALTHCHECK (curl inside the image)
   reports healthy;
4. writes through the API (two COCO imports, a tag edit) sit in the WAL; `docker stop -t N` ends the
   container with status 0 well inside N, its log shows the checkpoint, no .wal is left on the volume;
5. a new container on the same volume sees exactly the same data (and replays no WAL);
6. the browser app is in the image: `/` and a deep link answer its HTML with the CSP, its script loads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CUDA_CHECK = r"""
import importlib.metadata as md, json, re, torch
names = sorted({d.metadata["Name"].lower() for d in md.distributions()})
print(json.dumps({
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "cuda_available": torch.cuda.is_available(),
    "cuda_packages": [n for n in names if re.match(r"(nvidia-|cuda-|triton)", n)],
    "distributions": len(names),
}))
"""


class CheckFailed(AssertionError):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def say(message: str) -> None:
    print(f"-- {message}", flush=True)


def docker(*args: str, check_rc: bool = True, timeout: float = 300) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise CheckFailed(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def http(method: str, url: str, body: object | None = None, timeout: float = 10.0) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def fetch(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


APP_SCRIPT = re.compile(r'<script type="module"[^>]* src="(/assets/[^"]+[.]js)"')


def check_app(url: str) -> str:
    """The browser app the image carries (app/webui, built by `make ui` before the image): hosts need no Node."""
    page = ""
    for path in ("/", "/datasets/1"):
        status, headers, body = fetch(url + path)
        page = body.decode(errors="replace")
        check(
            status == 200 and headers.get("content-type", "").startswith("text/html"),
            f"GET {path} -> {status} {headers.get('content-type')}: {page[:200]} (is app/webui in the image?)",
        )
        check('<div id="root"></div>' in page, f"GET {path} is not the app's page: {page[:300]}")
        csp = headers.get("content-security-policy", "")
        check("default-src 'self'" in csp and "unsafe-inline" not in csp, f"GET {path}: CSP {csp!r}")
    scripts = APP_SCRIPT.findall(page)
    check(len(scripts) == 1, f"the app's page names {len(scripts)} module scripts: {page[:400]}")
    status, headers, script = fetch(url + scripts[0])
    check(status == 200 and "javascript" in headers.get("content-type", ""), f"GET {scripts[0]} -> {status} {headers}")
    cache = headers.get("cache-control", "")
    check("immutable" in cache, f"{scripts[0]}: cache-control {cache!r}")
    return f"the app: / and /datasets/1 answer its page with the CSP; {scripts[0]} loads ({len(script) // 1024} KB)"


def write_coco(path: Path, images: int, boxes: int, seed: int) -> None:
    """A synthetic COCO annotation file (no image files, imported annotations_only; sizes are in the file)."""
    rng = random.Random(seed)
    imgs = [
        {
            "id": i + 1,
            "file_name": f"img_{i:06d}.jpg",
            "width": rng.choice([640, 800]),
            "height": rng.choice([480, 600]),
        }
        for i in range(images)
    ]
    anns = []
    for k in range(boxes):
        image = imgs[rng.randrange(images)]
        w, h = rng.uniform(5, 200), rng.uniform(5, 200)
        x, y = rng.uniform(0, image["width"] - w), rng.uniform(0, image["height"] - h)
        anns.append(
            {
                "id": k + 1,
                "image_id": image["id"],
                "category_id": rng.randint(1, 5),
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
            }
        )
    cats = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in range(1, 6)]
    path.write_text(json.dumps({"images": imgs, "annotations": anns, "categories": cats}))


class Container:
    def __init__(self, image: str, name: str, state_dir: Path, datasets_dir: Path) -> None:
        self.name = name
        docker(
            "run", "--detach", "--name", name,
            "--publish", "127.0.0.1::8000",
            "--volume", f"{state_dir}:/data",
            "--volume", f"{datasets_dir}:/datasets:ro",
            # Only the schedule changes; the check command is the image's own.
            "--health-interval", "2s", "--health-start-period", "60s",
            image,
        )  # fmt: skip
        port = docker("port", name, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if docker("inspect", "--format", "{{.State.Running}}", self.name) != "true":
                raise CheckFailed(f"container {self.name} exited during startup:\n{self.logs()}")
            try:
                status, _ = http("GET", f"{self.url}/ready", timeout=2.0)
                if status == 200:
                    return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise CheckFailed(f"{self.name} not ready within {timeout} s:\n{self.logs()}")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = docker("inspect", "--format", "{{.State.Health.Status}}", self.name)
            if status == "healthy":
                return
            time.sleep(0.5)
        health = docker("inspect", "--format", "{{json .State.Health}}", self.name)
        raise CheckFailed(f"Docker HEALTHCHECK did not report healthy: {health}")

    def get(self, path: str) -> object:
        status, body = http("GET", f"{self.url}{path}")
        check(status == 200, f"GET {path} -> {status}: {body}")
        return body

    def import_coco(self, name: str, path: str) -> int:
        request = {"name": name, "format": "coco", "path": path, "annotations_only": True}  # no image files written
        status, body = http("POST", f"{self.url}/api/datasets", request)
        check(status == 202, f"POST /datasets -> {status}: {body}")
        assert isinstance(body, dict)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            job = self.get(f"/api/jobs/{body['job_id']}")
            assert isinstance(job, dict)
            if job["state"] in ("succeeded", "failed", "cancelled"):
                check(job["state"] == "succeeded", f"import {name} ended {job['state']}: {job}")
                return int(body["dataset_id"])
            time.sleep(0.1)
        raise CheckFailed(f"import {name} did not finish")

    def snapshot(self) -> dict:
        out = {}
        for dataset in self.get("/api/datasets"):  # type: ignore[union-attr]
            detail = self.get(f"/api/datasets/{dataset['id']}")
            page = self.get(f"/api/datasets/{dataset['id']}/samples?limit=50")
            out[dataset["name"]] = {"detail": detail, "page": page}
        return out

    def stop(self, timeout: int) -> float:
        started = time.monotonic()
        docker("stop", "--time", str(timeout), self.name, timeout=timeout + 30)
        return time.monotonic() - started

    def exit_code(self) -> int:
        return int(docker("inspect", "--format", "{{.State.ExitCode}}", self.name))

    def logs(self) -> str:
        proc = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return proc.stdout + proc.stderr

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "--force", self.name], capture_output=True)


def checkpoint_seconds(log: str) -> float | None:
    for line in reversed(log.splitlines()):
        if "checkpoint completed in" in line:
            return float(line.split("checkpoint completed in", 1)[1].split()[0])
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    parser.add_argument("--max-size-gb", type=float, default=1.5, help="fail above this size (GB, 10^9 bytes)")
    parser.add_argument(
        "--stop-timeout", type=int, default=30, help="docker stop -t: graceful (20) + checkpoint budget"
    )
    args = parser.parse_args()
    image = args.image
    figures: dict[str, str] = {}

    # 1. the image's configuration
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image))
    figures["image size"] = f"{size / 1e9:.2f} GB ({size} bytes; limit {args.max_size_gb} GB)"
    say(f"image size {figures['image size']}")
    check(size <= args.max_size_gb * 1e9, f"image is {size / 1e9:.2f} GB, above {args.max_size_gb} GB")
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image))
    check(config["User"] not in ("", "root", "0"), f"image runs as root (User={config['User']!r})")
    check("8000/tcp" in (config.get("ExposedPorts") or {}), "port 8000 not exposed")
    check((config.get("Healthcheck") or {}).get("Test"), "no HEALTHCHECK")
    check("/health" in " ".join(config["Healthcheck"]["Test"]), "HEALTHCHECK does not probe /health")
    check(config.get("StopSignal") == "SIGTERM", f"STOPSIGNAL is {config.get('StopSignal')}")
    cmd = config.get("Cmd") or []
    check(
        not config.get("Entrypoint") and cmd == ["datavisor", "serve"], f"CMD is not exec-form datavisor serve: {cmd}"
    )
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    check(env.get("DATAVISOR_HOST") == "0.0.0.0" and env.get("DATAVISOR_PORT") == "8000", f"env: {env}")
    check(env.get("DATAVISOR_ENV_FILE") == "", f"the image may read an env file: {env}")
    effective = json.loads(docker("run", "--rm", image, "datavisor", "config"))
    options = effective["uvicorn"]
    check(options["workers"] == 1, f"not one worker: {options}")
    check(options["timeout_graceful_shutdown"] == 20, f"graceful timeout: {options}")
    check(options["proxy_headers"] is False and options["host"] == "0.0.0.0", f"uvicorn options: {options}")
    uid = docker("run", "--rm", "--entrypoint", "id", image, "-u")
    check(uid != "0", "the container's user is uid 0")
    say(f"config ok: user {config['User']} (uid {uid}), CMD {' '.join(cmd)}, uvicorn {options}")

    # 2. CPU-only torch, no CUDA packages
    info = json.loads(docker("run", "--rm", "--entrypoint", "python", image, "-c", CUDA_CHECK).splitlines()[-1])
    check(info["cuda"] is None, f"torch.version.cuda = {info['cuda']}")
    check(not info["cuda_available"], "torch sees CUDA")
    check(not info["cuda_packages"], f"CUDA packages in the image: {info['cuda_packages']}")
    say(
        f"torch {info['torch']}, torch.version.cuda None, "
        f"no nvidia-*/cuda-*/triton among {info['distributions']} distributions"
    )

    tmp = Path(tempfile.mkdtemp(prefix="datavisor-imagecheck-"))
    state, datasets = tmp / "state", tmp / "datasets"
    state.mkdir()
    datasets.mkdir()
    # The state directory belongs to the image's user, as the role's bind-mounted state directory does.
    if os.geteuid() == 0:
        os.chown(state, int(uid), int(uid))
    else:
        state.chmod(0o777)
    tmp.chmod(0o755)
    write_coco(datasets / "first.json", images=3000, boxes=30000, seed=1)
    write_coco(datasets / "second.json", images=500, boxes=2000, seed=2)
    for path in datasets.iterdir():
        path.chmod(0o644)
    wal = state / "datavisor.duckdb.wal"
    prefix = f"datavisor-imagecheck-{os.getpid()}"
    containers: list[Container] = []
    try:
        # 3. health
        first = Container(image, f"{prefix}-a", state, datasets)
        containers.append(first)
        figures["startup to ready"] = f"{first.wait_ready():.1f} s"
        check(first.get("/health") == {"status": "ok"}, "/health body")
        # The role's health gate waits for the version the image's label names (ansible/roles/datavisor).
        ready_version = first.get("/ready")["version"]  # type: ignore[index]
        label = (config.get("Labels") or {}).get("org.opencontainers.image.version")
        check(label == ready_version, f"image label version {label!r}, /ready reports {ready_version!r}")
        inside = docker("exec", first.name, "curl", "-fsS", "http://127.0.0.1:8000/health")
        check(json.loads(inside) == {"status": "ok"}, f"/health via docker exec: {inside}")
        first.wait_healthy()
        say(
            f"/health answers on {first.url} and via docker exec; Docker HEALTHCHECK healthy; "
            f"ready after {figures['startup to ready']}, as {ready_version} (the image's label)"
        )
        say(check_app(first.url))

        # 4. writes, then docker stop
        first_id = first.import_coco("first", "/datasets/first.json")
        first.import_coco("second", "/datasets/second.json")
        page = first.get(f"/api/datasets/{first_id}/samples?limit=10")
        ids = [item["id"] for item in page["items"]]  # type: ignore[index]
        status, body = http("POST", f"{first.url}/api/datasets/{first_id}/tags", {"sample_ids": ids, "add": ["keep"]})
        check(status == 200, f"tagging -> {status}: {body}")
        before = first.snapshot()
        check(set(before) == {"first", "second"}, f"datasets after import: {sorted(before)}")
        check(wal.exists(), "the writes should sit in the WAL before the stop (nothing to prove otherwise)")
        say(f"imported 2 datasets and tagged {len(ids)} samples; WAL on the volume: {wal.stat().st_size} bytes")

        stop_seconds = first.stop(args.stop_timeout)
        figures["docker stop"] = f"{stop_seconds:.2f} s (-t {args.stop_timeout})"
        log = first.logs()
        code = first.exit_code()
        check(code == 0, f"exit status {code} after docker stop (137 = killed at the timeout):\n{log[-3000:]}")
        check(stop_seconds < args.stop_timeout, f"stop took {stop_seconds:.1f} s, the whole -t budget")
        check("checkpoint completed in" in log, f"no checkpoint in the log:\n{log[-3000:]}")
        check(not wal.exists(), "a .wal is left on the state volume after docker stop")
        check((state / "datavisor.duckdb").exists(), "no database file on the state volume")
        figures["checkpoint"] = f"{checkpoint_seconds(log)} s"
        say(f"docker stop took {figures['docker stop']}, exit 0, checkpoint {figures['checkpoint']}, no WAL left")

        # 5. a new container on the same volume
        second = Container(image, f"{prefix}-b", state, datasets)
        containers.append(second)
        second.wait_ready()
        after = second.snapshot()
        check(after == before, "a new container on the same volume sees different data")
        check("replayed write-ahead log" not in second.logs(), "the new container replayed a WAL")
        figures["docker stop (idle)"] = f"{second.stop(args.stop_timeout):.2f} s"
        check(second.exit_code() == 0 and not wal.exists(), "second container did not stop cleanly")
        say("a new container on the same volume sees every dataset, sample and tag")
    finally:
        for container in containers:
            container.remove()
        shutil.rmtree(tmp, ignore_errors=True)

    print("\nimage check passed:", image)
    for key, value in figures.items():
        print(f"  {key:<20} {value}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as failure:
        print(f"\nIMAGE CHECK FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
