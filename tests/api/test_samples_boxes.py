"""A samples page with its boxes in one request: `boxes=true` (ground truth) and `runs=` (prediction runs)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.datasets import coco_dict, import_dataset, make_coco, wait_job
from tests.support.server import Server

N = 14


def predictions(data: dict, shift: float, every: int) -> list[dict]:
    """COCO results: a shifted copy of every `every`-th ground-truth box, scored by position."""
    out = []
    for k, a in enumerate(data["annotations"]):
        if k % every == 0:
            x, y, w, h = a["bbox"]
            out.append(
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "bbox": [x + shift, y + shift, w, h],
                    "score": round(0.9 - k / 100, 3),
                }
            )
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("boxes") / "state"
    root = state / "datasets" / "coco"
    data = coco_dict(N)
    data["annotations"][0]["iscrowd"] = 1
    ann = make_coco(root, data=data)
    runs = {"det_a": predictions(data, 1.5, 1), "det_b": predictions(data, -0.5, 2)}
    server = Server(state, plugin_dir=str(state.parent / "no-plugins"))
    with server, server.client() as client:
        job = import_dataset(client, "boxes", ann)
        assert job["state"] == "succeeded", job
        dataset_id = job["dataset_id"]
        for run, results in runs.items():
            path = root / f"{run}.json"
            path.write_text(json.dumps(results))
            started = client.post(
                f"/datasets/{dataset_id}/predictions", json={"run": run, "path": str(path), "format": "coco_results"}
            )
            assert started.status_code == 202, started.text
            assert wait_job(client, started.json()["job_id"])["state"] == "succeeded"
        yield {"client": client, "id": dataset_id, "data": data, "runs": runs}


def page(env: dict, status: int = 200, **params) -> dict:
    """The reply, with the page's box columns also dealt out to its items as `item["boxes"]`."""
    response = env["client"].get(f"/datasets/{env['id']}/samples", params=params)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200 and body["boxes"] is not None:
        for item, boxes in zip(body["items"], per_item(body), strict=True):
            item["boxes"] = boxes
    return body


def per_item(body: dict) -> list[list[dict]]:
    """The page's box columns as one list of box objects per item (what the app does with them)."""
    cols = body["boxes"]
    n = len(cols["id"])
    assert [len(cols[k]) for k in ("item", "category_id", "source", "confidence", "crowd")] == [n] * 5
    assert len(cols["bbox"]) == 4 * n
    assert cols["item"] == sorted(cols["item"]) and all(0 <= i < len(body["items"]) for i in cols["item"])
    names = {c["id"]: c["name"] for c in cols["categories"]}
    assert len(names) == len(cols["categories"]) and set(cols["category_id"]) == set(names)
    out: list[list[dict]] = [[] for _ in body["items"]]
    for k in range(n):
        out[cols["item"][k]].append(
            {
                "id": cols["id"][k],
                "category_id": cols["category_id"][k],
                "category": names[cols["category_id"][k]],
                "bbox": cols["bbox"][4 * k : 4 * k + 4],
                "source": cols["sources"][cols["source"][k]],
                "confidence": cols["confidence"][k],
                "iscrowd": cols["crowd"][k],
            }
        )
    return out


def expected(env: dict, runs: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """file name -> [(source, category, bbox, confidence, iscrowd)] straight from the imported files."""
    data = env["data"]
    names = {im["id"]: im["file_name"] for im in data["images"]}
    cats = {c["id"]: c["name"] for c in data["categories"]}
    out: dict[str, list[tuple]] = {name: [] for name in names.values()}
    for a in data["annotations"]:
        out[names[a["image_id"]]].append(("ground_truth", cats[a["category_id"]], a["bbox"], None, bool(a["iscrowd"])))
    for run in sorted(runs):  # ground truth first, then runs by name, each in file order (= annotation id)
        for p in env["runs"][run]:
            out[names[p["image_id"]]].append((run, cats[p["category_id"]], p["bbox"], p["score"], False))
    return out


def drawn(item: dict) -> list[tuple]:
    return [(b["source"], b["category"], b["bbox"], b["confidence"], b["iscrowd"]) for b in item["boxes"]]


def test_without_boxes_the_page_carries_none(env) -> None:
    body = page(env, limit=5)
    assert body["boxes"] is None and len(body["items"]) == 5


def test_boxes_true_gives_every_sample_its_ground_truth(env) -> None:
    body = page(env, boxes="true", limit=100)
    assert body["total"] == N and len(body["items"]) == N
    want = expected(env)
    for item in body["items"]:
        assert drawn(item) == want[item["file_name"]], item["file_name"]
        assert len(item["boxes"]) == item["annotation_count"]
    assert any(not item["boxes"] for item in body["items"])  # images without boxes get []


def test_named_runs_are_added_and_only_those(env) -> None:
    both = page(env, boxes="true", runs=["det_b", "det_a"], limit=100)
    want = expected(env, ("det_a", "det_b"))
    for item in both["items"]:
        assert drawn(item) == want[item["file_name"]], item["file_name"]
    only_b = page(env, boxes="true", runs="det_b", limit=100)
    want_b = expected(env, ("det_b",))
    for item in only_b["items"]:
        assert drawn(item) == want_b[item["file_name"]]
    assert {b["source"] for item in only_b["items"] for b in item["boxes"]} == {"ground_truth", "det_b"}
    assert only_b["boxes"]["sources"] == ["ground_truth", "det_b"]


def test_boxes_agree_with_the_sample_view_and_category_ids(env) -> None:
    client = env["client"]
    categories: dict[int, set[str]] = {}
    body = page(env, boxes="true", runs=["det_a", "det_b"], limit=100)
    for item in body["items"]:
        detail = client.get(f"/samples/{item['id']}").json()["annotations"]
        assert [(a["id"], a["source"], a["bbox"], a["confidence"]) for a in detail] == [
            (b["id"], b["source"], b["bbox"], b["confidence"]) for b in item["boxes"]
        ]
        for box in item["boxes"]:
            categories.setdefault(box["category_id"], set()).add(box["category"])
    # one id per category name, the same in every run (the app colours boxes by it)
    assert sorted(len(names) for names in categories.values()) == [1, 1, 1]
    assert {name for names in categories.values() for name in names} == {"cat", "dog", "bird"}


def test_boxes_follow_filters_sort_and_paging(env) -> None:
    want = expected(env, ("det_a",))
    seen = []
    for offset in (0, 4, 8, 12):
        body = page(env, boxes="true", runs="det_a", sort_by="file_name", sort_dir="desc", limit=4, offset=offset)
        for item in body["items"]:
            assert drawn(item) == want[item["file_name"]]
        seen += [item["file_name"] for item in body["items"]]
    assert seen == sorted(want, reverse=True)
    scattered = page(env, boxes="true", runs="det_a", min_annotations=3)  # every 4th sample: ids far apart
    assert len(scattered["items"]) == 3
    for item in scattered["items"]:
        assert drawn(item) == want[item["file_name"]]
    filtered = page(env, boxes="true", category="dog", min_annotations=2)
    assert filtered["items"]
    for item in filtered["items"]:
        assert drawn(item) == expected(env)[item["file_name"]]
        assert "dog" in {b["category"] for b in item["boxes"]}


def test_every_page_of_one_and_pages_with_gaps_carry_exactly_their_items_boxes(env) -> None:
    """Pages of one sample (one with no box at all among them; scores and nulls mixed) and pages whose ids leave
    gaps (the boxes of the samples in between are read, then left out)."""
    want = expected(env, ("det_a", "det_b"))
    sources = set()
    for offset in range(N):
        body = page(env, boxes="true", runs=["det_a", "det_b"], limit=1, offset=offset)
        (item,) = body["items"]
        assert drawn(item) == want[item["file_name"]], item["file_name"]
        sources.add(tuple(sorted({b["source"] for b in item["boxes"]})))
    assert () in sources and ("det_a", "det_b", "ground_truth") in sources
    ids = [item["id"] for item in page(env, limit=N)["items"]]
    for chosen in (ids[0:6:2], ids[1:8:3], [ids[0], ids[-1]]):
        body = page(env, boxes="true", runs=["det_a", "det_b"], ids=chosen)
        assert [item["id"] for item in body["items"]] == chosen
        for item in body["items"]:
            assert drawn(item) == want[item["file_name"]], item["file_name"]


def test_unknown_runs_are_404_naming_them(env) -> None:
    body = page(env, status=404, boxes="true", runs=["det_a", "nope", "gone"])
    assert "'nope'" in body["detail"] and "'gone'" in body["detail"] and "'det_a'" not in body["detail"]
    assert "boxes=true" in page(env, status=422, runs="det_a")["detail"]
    assert page(env, status=404, boxes="true", runs="nope", search="no-such-file")["detail"]
    missing = env["client"].get("/datasets/999999/samples", params={"boxes": "true"})
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]


def test_pages_with_boxes_have_exactly_the_reply_models_shape(env) -> None:
    from app.routers.samples import PageBoxes, SampleItem, SamplesPage

    for params in ({"limit": 100}, {"search": "no-such-file"}, {"max_annotations": 0}):
        response = env["client"].get(
            f"/datasets/{env['id']}/samples", params={"boxes": "true", "runs": ["det_a", "det_b"], **params}
        )
        body = response.json()
        assert SamplesPage.model_validate(body).model_dump(mode="json") == body, params
        assert set(body) == set(SamplesPage.model_fields)
        assert set(body["boxes"]) == set(PageBoxes.model_fields)
        for item in body["items"]:
            assert set(item) == set(SampleItem.model_fields)
        cols = body["boxes"]
        assert all(isinstance(v, float) for v in cols["bbox"]) and all(isinstance(v, bool) for v in cols["crowd"])
        per_item(body)
    assert body["items"] and body["boxes"]["id"] == []  # samples without boxes: empty columns, not nulls


def test_the_box_columns_are_in_the_openapi_schema(env) -> None:
    schemas = env["client"].get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["PageBoxes"]["properties"]) == {
        "sources",
        "categories",
        "item",
        "id",
        "category_id",
        "source",
        "bbox",
        "confidence",
        "crowd",
    }


def test_a_later_page_follows_a_write_made_after_it_was_first_read(env) -> None:
    """Pages after the first come from the query's cached order: a committed write must refresh it."""
    client = env["client"]
    ids = [item["id"] for item in page(env, limit=N)["items"]]
    tag = "cache-check"
    edit = client.post(f"/datasets/{env['id']}/tags", json={"sample_ids": ids[:3], "add": [tag]})
    assert edit.status_code == 200, edit.text
    first = page(env, tag=tag, limit=1, offset=1)
    assert first["total"] == 3 and [i["id"] for i in first["items"]] == [ids[1]]
    edit = client.post(f"/datasets/{env['id']}/tags", json={"sample_ids": ids[:1], "remove": [tag]})
    assert edit.status_code == 200, edit.text
    again = page(env, tag=tag, limit=1, offset=1)
    assert again["total"] == 2 and [i["id"] for i in again["items"]] == [ids[2]]
    client.post(f"/datasets/{env['id']}/tags", json={"sample_ids": ids[1:3], "remove": [tag]}).raise_for_status()
