"""Start a COCO import through the proxy and time each server-sent event of its job as curl -N delivers it.

Runs inside the instance; credentials come from a file, requests go through curl to the proxy on loopback.
Prints one JSON object: dataset/job ids and, per event, its arrival time (seconds after the stream opened),
name and the job's state/done/total/message.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="https://NAME/api")
    parser.add_argument("--cacert", required=True)
    parser.add_argument("--resolve", required=True, help="curl --resolve HOST:PORT:ADDR")
    parser.add_argument("--netrc", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--path", required=True)
    args = parser.parse_args()
    curl = [
        "curl",
        "--silent",
        "--show-error",
        "--fail",
        "--netrc-file",
        args.netrc,
        "--cacert",
        args.cacert,
        "--resolve",
        args.resolve,
    ]

    # annotations only: the stream is what is tested, the 30,000 image files are not written
    body = json.dumps({"name": args.name, "format": "coco", "path": args.path, "annotations_only": True})
    posted = subprocess.run(
        [*curl, "-H", "Content-Type: application/json", "--data", body, f"{args.base}/datasets"],
        check=True,
        capture_output=True,
        text=True,
    )
    created = json.loads(posted.stdout)
    job_id = created["job_id"]

    start = time.monotonic()
    stream = subprocess.Popen(
        [*curl, "--no-buffer", f"{args.base}/jobs/{job_id}/events"], stdout=subprocess.PIPE, text=True
    )
    events, name = [], None
    assert stream.stdout is not None
    for line in stream.stdout:
        line = line.rstrip("\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name:
            data = json.loads(line.split(":", 1)[1])
            events.append(
                {
                    "t": round(time.monotonic() - start, 3),
                    "event": name,
                    "state": data.get("state"),
                    "done": data.get("done"),
                    "total": data.get("total"),
                    "message": data.get("message"),
                }
            )
            name = None
    stream.wait(timeout=60)
    print(
        json.dumps(
            {"dataset_id": created["dataset_id"], "job_id": job_id, "curl_rc": stream.returncode, "events": events}
        )
    )


if __name__ == "__main__":
    main()
