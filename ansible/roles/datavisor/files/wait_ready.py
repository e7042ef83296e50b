#!/usr/bin/env python3
"""Health gate of the role, run on the host: wait until GET URL/ready answers 200 (and reports VERSION, when
one is given), polling once a second, for at most TIMEOUT seconds.

    wait_ready.py URL VERSION|'' TIMEOUT UNIT [DOCKER CONTAINER IMAGE_ID]

With the last three (container runtime), ready also means the container runs IMAGE_ID: an image that
reports the same version as the one it replaces (a rebuild, or one made FROM it) must not pass on the old
container, which answers until the restart has stopped it.

Exits 0 when ready, 2 on the timeout, 3 as soon as systemd has given up on UNIT (state failed: the start
limit was hit, or it does not restart). Waiting on after that would only hold a failed upgrade, and its
rollback, for the whole timeout. Prints one JSON line: the last answer (status, its JSON or the error), the
unit's state and the seconds waited.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

url, version, timeout, unit = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
container = sys.argv[5:8]
started = time.monotonic()
answer: dict = {"status": None, "json": None, "error": ""}
failed_polls = 0
running = ""  # the container's image, last read


def container_image() -> str:
    docker, name = container[0], container[1]
    shown = subprocess.run(
        [docker, "container", "inspect", "--format", "{{.Image}}", name], capture_output=True, text=True
    )
    return shown.stdout.strip()


def unit_state() -> str:
    shown = subprocess.run(
        ["systemctl", "show", "--property", "ActiveState", "--value", unit], capture_output=True, text=True
    )
    return shown.stdout.strip()


def report(code: int, state: str) -> None:
    extra = {"container_image": running} if container else {}
    print(json.dumps({**answer, **extra, "unit": state, "waited": round(time.monotonic() - started, 1)}))
    sys.exit(code)


while True:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=5) as reply:
            answer = {"status": reply.status, "json": json.loads(reply.read() or b"null"), "error": ""}
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            answer = {"status": error.code, "json": json.loads(body), "error": ""}
        except ValueError:
            answer = {"status": error.code, "json": None, "error": body[:200].decode(errors="replace")}
    except (OSError, ValueError) as error:
        answer = {"status": None, "json": None, "error": str(error)}
    ready = answer["status"] == 200 and (not version or (answer["json"] or {}).get("version") == version)
    if ready and container:
        running = container_image()
        ready = running == container[2]
    state = unit_state()
    if ready:
        report(0, state)
    # Twice in a row: a restart queued a moment ago (no_block) may not have left the old failed state yet.
    failed_polls = failed_polls + 1 if state == "failed" else 0
    if failed_polls >= 2:
        report(3, state)
    if time.monotonic() - started >= timeout:
        report(2, state)
    time.sleep(1)
