"""The selection filter: `ids=` and stored selections (`selection=<id>`) wherever a filter is taken."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.datasets import coco_dict, import_dataset, make_coco
from tests.support.server import Server

N = 10


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict]:
    state = tmp_path_factory.mktemp("selections") / "state"
    server = Server(state, plugin_dir=str(state.parent / "no-plugins"))
    with server, server.client() as client:
        ids = {}
        for name in ("one", "two"):
            data = coco_dict(N)
            for i, image in enumerate(data["images"]):
                image["split"] = "train" if i % 2 else "val"
            ann = make_coco(state / "datasets" / name, data=data)
            ann.write_text(json.dumps(data))
            job = import_dataset(client, name, ann)
            assert job["state"] == "succeeded", job
            ids[name] = job["dataset_id"]
        samples = {
            name: [s["id"] for s in client.get(f"/datasets/{d}/samples", params={"limit": 500}).json()["items"]]
            for name, d in ids.items()
        }
        yield {"client": client, "ids": ids, "samples": samples}


def ids_of(client, dataset_id: int, **params) -> list[int]:
    r = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["items"]]


def test_stored_selection_filters_samples_facets_statistics_export_views(env) -> None:
    c, d, all_ids = env["client"], env["ids"]["one"], env["samples"]["one"]
    chosen = [all_ids[7], all_ids[1], all_ids[4], all_ids[1]]  # unordered, one repeated
    r = c.post(f"/datasets/{d}/selections", json={"sample_ids": chosen})
    assert r.status_code == 201, r.text
    sel = r.json()
    assert sel["size"] == 3 and sel["dataset_id"] == d
    expected = sorted(set(chosen))
    assert c.get(f"/datasets/{d}/selections/{sel['id']}").json()["sample_ids"] == expected
    assert ids_of(c, d, selection=sel["id"]) == expected
    # combined with another filter: both must match
    train = set(ids_of(c, d, split="train"))
    assert ids_of(c, d, selection=sel["id"], split="train") == [i for i in expected if i in train]
    facets = c.get(f"/datasets/{d}/facets", params={"selection": sel["id"]}).json()
    assert sum(v["count"] for v in facets["splits"]) == 3
    stats = c.get(f"/datasets/{d}/statistics", params={"selection": sel["id"]}).json()
    assert stats["totals"]["samples"] == 3
    coco = c.get(f"/datasets/{d}/export", params={"selection": sel["id"], "format": "coco"}).json()
    assert len(coco["images"]) == 3
    view = c.post(f"/datasets/{d}/views", json={"name": "lasso", "filters": {"selection": sel["id"]}})
    assert view.status_code == 201, view.text
    assert view.json()["filters"] == {"selection": sel["id"]}


def test_ids_filter(env) -> None:
    c, d, all_ids = env["client"], env["ids"]["one"], env["samples"]["one"]
    assert ids_of(c, d, ids=[all_ids[3], all_ids[0]]) == [all_ids[0], all_ids[3]]
    # another dataset's ids match nothing here
    assert ids_of(c, d, ids=[env["samples"]["two"][0]]) == []


def test_bad_selections_are_4xx_naming_the_entry(env) -> None:
    c, one, two = env["client"], env["ids"]["one"], env["ids"]["two"]
    foreign = env["samples"]["two"][2]
    r = c.post(f"/datasets/{one}/selections", json={"sample_ids": [env["samples"]["one"][0], foreign]})
    assert r.status_code == 422 and r.json()["detail"] == f"sample_ids[1]: sample {foreign} is not in dataset {one}"
    r = c.post(f"/datasets/{one}/selections", json={"sample_ids": [-1]})
    assert r.status_code == 422 and "sample_ids" in r.json()["detail"]
    assert c.post(f"/datasets/{one}/selections", json={"sample_ids": []}).status_code == 422
    assert c.post("/datasets/999999/selections", json={"sample_ids": [1]}).status_code == 404
    # a selection of dataset two is not one of dataset one
    other = c.post(f"/datasets/{two}/selections", json={"sample_ids": [foreign]}).json()["id"]
    for path in ("samples", "facets", "statistics", "statistics/distributions", "export"):
        r = c.get(f"/datasets/{one}/{path}", params={"selection": other})
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"] == f"selection: selection {other} not found in dataset {one}"
    r = c.post(f"/datasets/{one}/views", json={"name": "x", "filters": {"selection": other}})
    assert r.status_code == 404
    assert c.get(f"/datasets/{one}/selections/{other}").status_code == 404
    assert c.get(f"/datasets/{one}/samples", params={"selection": 0}).status_code == 422
    assert c.get(f"/datasets/{one}/samples", params={"ids": "x"}).status_code == 422
