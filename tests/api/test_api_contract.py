"""The API keeps its own schema: schemathesis against a real `datavisor serve` with a seeded dataset.

Every operation of /api/openapi.json is exercised (none excluded): zero 5xx, every status code
documented, content types as declared, JSON bodies valid against the reply schemas (streams, the export
and images are checked for status and content type, and the export's JSON body too). Path ids are drawn
from the seeded records plus one that does not exist, so routes answer with real data as well as 404s;
destructive operations get their own victims (a second dataset, run and view), so they cannot delete
what the other operations read. Plus the HTTP-level inputs that used to give a 500 (issue 11) and the
`Allow` header of every 405.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.datasets import import_dataset, make_coco, wait_job
from tests.support.server import Server

# Per operation and generation mode (positive, negative): the file took 4:48 at 15 on 2 cores at load 17.
MAX_EXAMPLES = 10
MISSING_ID = 987654321
N_IMAGES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
METHODS = ("get", "post", "put", "patch", "delete")


def _results(data: dict) -> list[dict]:
    """Predictions for run files: each ground-truth box, shifted a little, plus one stray box per image."""
    out = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": [v + 1 for v in a["bbox"]], "score": 0.9}
        for a in data["annotations"]
    ]
    out += [{"image_id": i["id"], "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.3} for i in data["images"]]
    return out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A running server with a COCO dataset (images, tags, a view, a prediction run) and disposable victims."""
    state = tmp_path_factory.mktemp("contract")
    server = Server(state)
    roots = state / "datasets"
    roots.mkdir(parents=True)
    with server:
        client = server.client()
        ids: dict[str, Any] = {}
        for name in ("main", "victim"):
            ann = make_coco(roots / name, n_images=N_IMAGES)
            data = json.loads(ann.read_text())
            (roots / name / "results.json").write_text(json.dumps(_results(data)))
            job = import_dataset(client, name, ann, "coco")
            assert job["state"] == "succeeded", job
            ids[name] = job["dataset_id"]
            ids[f"{name}_job"] = job["id"]
            for run in ("r1", "r2"):
                r = client.post(
                    f"/datasets/{job['dataset_id']}/predictions",
                    json={"run": run, "path": str(roots / name / "results.json"), "format": "coco_results"},
                )
                assert r.status_code == 202, r.text
                assert wait_job(client, r.json()["job_id"])["state"] == "succeeded"
        main = ids["main"]
        samples = [s["id"] for s in client.get(f"/datasets/{main}/samples").json()["items"]]
        assert (
            client.post(f"/datasets/{main}/tags", json={"sample_ids": samples[:3], "add": ["keep"]}).status_code == 200
        )
        views = {}
        for name in ("dogs", "victim"):
            r = client.post(f"/datasets/{main}/views", json={"name": name, "filters": {"category": "dog"}})
            assert r.status_code == 201, r.text
            views[name] = r.json()["id"]
        embedding = client.post(f"/datasets/{main}/embeddings")
        assert embedding.status_code == 202, embedding.text
        assert wait_job(client, embedding.json()["job_id"], timeout=300)["state"] == "succeeded"
        raw = client.get("/openapi.json").json()
        placeholders = {
            "seed_main": main,
            "seed_victim": ids["victim"],
            "seed_missing": MISSING_ID,
            "seed_job": ids["main_job"],
            "seed_view": views["dogs"],
            "seed_victim_view": views["victim"],
            **{f"seed_sample{i}": sid for i, sid in enumerate(samples)},
        }
        yield {
            "server": server,
            "client": client,
            "raw": raw,
            "main": main,
            "job": ids["main_job"],
            "samples": samples,
            "views": views,
            "ids": placeholders,
        }
        client.close()


def _in_process_schema() -> dict:
    """The schema the server serves, built by the same app factory (the server is only started later)."""
    import tempfile

    from app.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(Settings(db_path=Path(tmp) / "x.duckdb", data_roots=[Path(tmp)])).openapi()


def _constrain(raw: dict) -> dict:
    """The schema with path ids (and run and category names) drawn from the seeded records or a missing one.

    Ids are placeholders (`seed_main`) that the test swaps for the seeded ids; destructive operations get the
    victims.
    """
    schema = copy.deepcopy(raw)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            destroys = method == "delete"
            values = {
                "dataset_id": [
                    "seed_victim" if destroys and path.endswith(("{dataset_id}", "{run}")) else "seed_main",
                    "seed_missing",
                ],
                "sample_id": [*(f"seed_sample{i}" for i in range(N_IMAGES)), "seed_missing"],
                "view_id": ["seed_victim_view" if destroys else "seed_view", "seed_missing"],
                "job_id": ["seed_job", "no-such-job"],
                "run": ["r2" if destroys else "r1", "no-such-run"],
                "actual": ["cat", "dog", "background", "unicorn"],
                "predicted": ["cat", "bird", "background"],
            }
            for parameter in operation.get("parameters", []):
                choices = values.get(parameter["name"])
                by_name = parameter["name"] in ("run", "actual", "predicted")
                if choices is not None and (parameter["in"] == "path" or by_name):
                    parameter["schema"] = {"enum": choices}
    return schema


RAW = _in_process_schema()
ANSWERS: dict[str, set[int]] = {}  # operation -> status codes seen by the schemathesis run
schema = schemathesis.openapi.from_dict(_constrain(RAW))
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES, deterministic=True
)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_the_schema(case: schemathesis.Case, seeded: dict) -> None:
    params = case.path_parameters or {}
    for name, value in params.items():
        if isinstance(value, str) and value.startswith("seed_"):
            params[name] = seeded["ids"][value]
    response = case.call_and_validate(base_url=seeded["server"].url, checks=CHECKS, timeout=30)
    ANSWERS.setdefault(f"{case.method.upper()} {case.path}", set()).add(response.status_code)


def test_reads_were_answered_with_real_data() -> None:
    """The run above reached the seeded records: every read answered 2xx at least once (not only 404s)."""
    # Reads whose path ids are all seeded (a route added with another kind of id needs a placeholder above).
    seeded_ids = {"dataset_id", "sample_id", "view_id", "job_id", "run"}
    reads = [
        f"GET {path}"
        for path, ops in RAW["paths"].items()
        if "get" in ops and {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "path"} <= seeded_ids
    ]
    assert ANSWERS, "the schemathesis run did not happen"
    never = [op for op in reads if not any(200 <= code < 300 for code in ANSWERS.get(op, ()))]
    assert not never, never


def test_the_schema_covers_every_route(seeded: dict) -> None:
    """No route hides from the contract test: every JSON route has a reply schema, every error code the shape."""
    raw = seeded["raw"]
    assert raw == RAW, "the served schema differs from the app factory's"
    operations = [(p, m, o) for p, ops in raw["paths"].items() for m, o in ops.items()]
    assert len(operations) >= 30
    for path, method, operation in operations:
        responses = operation["responses"]
        ok = [code for code in responses if code.startswith("2")]
        assert ok, (method, path)
        for code in ok:
            for media, content in responses[code].get("content", {}).items():
                if media == "application/json":
                    assert content.get("schema"), (method, path, "JSON reply without a schema")
        for code, reply in responses.items():
            if code.startswith("4"):
                ref = reply["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in ("ErrorReply", "ValidationErrorReply"), (method, path, code)
    schemas = raw["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ValidationErrorReply"]["properties"]["detail"]["type"] == "string"


def test_405_names_every_method_of_the_path(seeded: dict) -> None:
    client: httpx.Client = seeded["client"]
    for path, operations in seeded["raw"]["paths"].items():
        documented = {m.upper() for m in operations}
        concrete = (
            path.removeprefix("/api")
            .replace("{dataset_id}", str(seeded["main"]))
            .replace("{sample_id}", str(seeded["samples"][0]))
            .replace("{view_id}", str(seeded["views"]["dogs"]))
            .replace("{job_id}", seeded["job"])
            .replace("{run}", "r1")
        )
        for method in METHODS:
            if method.upper() in documented:
                continue
            response = client.request(method.upper(), concrete)
            assert response.status_code == 405, (method, path, response.text)
            assert set(response.headers["allow"].split(", ")) == documented, (method, path)
            assert isinstance(response.json()["detail"], str)


def _post_raw(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def test_inputs_that_used_to_be_500_are_4xx(seeded: dict) -> None:
    client: httpx.Client = seeded["client"]
    main, sample = seeded["main"], seeded["samples"][0]

    def invalid(response: httpx.Response, *words: str) -> None:
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert isinstance(detail, str) and all(w in detail for w in words), detail

    # integers beyond DuckDB's BIGINT
    invalid(client.get(f"/datasets/{main}/samples", params={"offset": 2**63}), "offset")
    assert client.get(f"/datasets/{main}/samples", params={"offset": 2**63 - 1}).json()["items"] == []
    invalid(client.post(f"/datasets/{main}/tags", json={"sample_ids": [10**20], "add": ["x"]}), "sample_ids")
    invalid(client.get(f"/datasets/{10**20}"), "dataset_id")
    invalid(client.get(f"/samples/{2**63}"), "sample_id")
    invalid(
        client.get(
            f"/datasets/{main}/evaluation/confusion",
            params={"run": "r1", "actual": "cat", "predicted": "cat", "offset": 2**64},
        ),
        "offset",
    )
    # text that is not valid Unicode: a lone surrogate, written as the JSON escape a client can send
    invalid(_post_raw(client, "/datasets", b'{"name": "bad\\ud800", "path": "main"}'), "name", "surrogate")
    invalid(
        _post_raw(client, f"/datasets/{main}/views", b'{"name": "v", "filters": {"search": "\\udfff"}}'),
        "filters.search",
        "surrogate",
    )
    invalid(
        _post_raw(client, f"/datasets/{main}/tags", b'{"sample_ids": [%d], "add": ["\\ud83d"]}' % sample),
        "add.0",
        "surrogate",
    )
    invalid(
        _post_raw(
            client, f"/datasets/{main}/predictions", b'{"run": "r9", "path": "\\ud800.json", "format": "coco_results"}'
        ),
        "path",
        "surrogate",
    )
    # paths the file system cannot take: longer than PATH_MAX, or with a NUL byte
    invalid(client.post("/datasets", json={"name": "long", "path": "x" * 5000}), "path")
    invalid(client.post("/datasets", json={"name": "nul", "path": "main\x00/annotations.json"}), "path")
    # `~name` of no such user: Path.expanduser raised RuntimeError (a 500); now a name like any other
    invalid(client.post("/datasets", json={"name": "tilde", "path": "~no-such-user-dv/a.json"}), "does not exist")
    response = client.post(
        f"/datasets/{main}/predictions", json={"run": "r9", "path": "~no-such-user-dv/r.json", "format": "coco_results"}
    )
    invalid(response, "~no-such-user-dv/r.json", "does not exist")
    # NaN in a JSON body (Python's json accepts it) is refused and echoed without breaking the reply
    invalid(_post_raw(client, "/datasets", b'{"name": NaN, "path": "main"}'), "name")
    # nothing stored was touched
    assert [d["name"] for d in client.get("/datasets").json()][0] == "main"
    assert client.get(f"/samples/{sample}").status_code == 200
