"""Browsing one imported dataset over HTTP: every filter and sort, sample detail, facets, statistics,
tags, saved views, COCO export and re-import, images and thumbnails."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.support.datasets import coco_dict, import_dataset, make_coco, write_photo
from tests.support.server import Server

N = 12


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict]:
    """One server and one dataset for the whole module (read-mostly tests; tag tests clean up)."""
    state = tmp_path_factory.mktemp("browse") / "state"
    server = Server(state, plugin_dir=str(state.parent / "no-plugins"))  # no plugin tags
    root = state / "datasets" / "coco"
    data = coco_dict(N)
    for i, image in enumerate(data["images"]):
        image["split"] = "train" if i < 8 else "val"
    data["images"][2]["file_name"] = "Special_Photo.jpg"
    ann = make_coco(root, data=data)
    # one real photo (sizes must match the declared ones for the thumbnail checks)
    data["images"][5].update(width=451, height=300, file_name="chelsea.png")
    write_photo(root / "images" / "chelsea.png", "chelsea")
    ann.write_text(json.dumps(data))
    with server, server.client() as client:
        job = import_dataset(client, "browse", ann)
        assert job["state"] == "succeeded", job
        items = client.get(f"/datasets/{job['dataset_id']}/samples", params={"limit": 500}).json()["items"]
        yield {
            "server": server,
            "client": client,
            "id": job["dataset_id"],
            "data": data,
            "root": root,
            "by_name": {s["file_name"]: s for s in items},
        }


def page(env: dict, **params) -> dict:
    response = env["client"].get(f"/datasets/{env['id']}/samples", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def names(body: dict) -> list[str]:
    return [s["file_name"] for s in body["items"]]


def expected_boxes(data: dict) -> dict[str, int]:
    by_id = {im["id"]: im["file_name"] for im in data["images"]}
    out = dict.fromkeys(by_id.values(), 0)
    for a in data["annotations"]:
        out[by_id[a["image_id"]]] += 1
    return out


# -- samples query -------------------------------------------------------------------------------------
def test_default_page_shape_and_paging(env) -> None:
    body = page(env)
    assert body["total"] == N and len(body["items"]) == N
    first = body["items"][0]
    assert set(first) >= {"id", "file_name", "width", "height", "split", "tags", "annotation_count"}
    ids = [s["id"] for s in body["items"]]
    assert ids == sorted(ids)
    assert [s["id"] for s in page(env, offset=3, limit=4)["items"]] == ids[3:7]
    assert page(env, offset=3, limit=4)["total"] == N
    beyond = page(env, offset=100)
    assert beyond["total"] == N and beyond["items"] == []


@pytest.mark.parametrize("key", ["id", "file_name", "width", "height", "annotation_count"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_sort_key_both_directions(env, key: str, direction: str) -> None:
    items = page(env, sort_by=key, sort_dir=direction, limit=500)["items"]
    keys = [(s[key], s["id"]) for s in items]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert len(items) == N


def test_filters(env) -> None:
    data, counts = env["data"], expected_boxes(env["data"])
    assert page(env, split="val")["total"] == 4
    assert set(names(page(env, split="val", limit=500))) == {im["file_name"] for im in data["images"][8:]}
    assert page(env, split="nope")["total"] == 0
    assert names(page(env, search="special")) == ["Special_Photo.jpg"]  # case-insensitive substring
    assert page(env, search="img_00")["total"] == 8
    assert set(names(page(env, min_annotations=2, limit=500))) == {k for k, v in counts.items() if v >= 2}
    assert set(names(page(env, max_annotations=0, limit=500))) == {k for k, v in counts.items() if v == 0}
    assert set(names(page(env, min_annotations=1, max_annotations=2, limit=500))) == {
        k for k, v in counts.items() if 1 <= v <= 2
    }
    by_id = {im["id"]: im["file_name"] for im in data["images"]}
    dogs = {by_id[a["image_id"]] for a in data["annotations"] if a["category_id"] == 2}
    assert set(names(page(env, category="dog", limit=500))) == dogs
    assert page(env, category="unicorn")["total"] == 0
    dogs_val = {n for n in dogs if n in {im["file_name"] for im in data["images"][8:]}}
    combined = page(env, category="dog", split="val", sort_by="file_name", sort_dir="desc", limit=500)
    assert names(combined) == sorted(dogs_val, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"sort_by": "uniqueness_typo"},
        {"sort_dir": "sideways"},
        {"limit": 501},
        {"limit": 0},
        {"offset": -1},
        {"min_annotations": -1},
        {"min_annotations": "many"},
        {"min_annotations": 3, "max_annotations": 1},
    ],
)
def test_bad_query_values_are_422(env, params: dict) -> None:
    response = env["client"].get(f"/datasets/{env['id']}/samples", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_unknown_dataset_and_sample_are_404(env) -> None:
    client = env["client"]
    assert client.get("/datasets/999999/samples").status_code == 404
    assert client.get("/datasets/999999/facets").status_code == 404
    assert client.get("/datasets/999999/statistics").status_code == 404
    assert client.get("/samples/999999").status_code == 404
    assert client.get("/images/999999").status_code == 404
    assert client.get("/datasets/999999").json() == {"detail": "dataset 999999 not found"}


# -- sample detail, facets, statistics -----------------------------------------------------------------------
def test_sample_detail_lists_its_boxes(env) -> None:
    data = env["data"]
    image = data["images"][3]
    sample = env["by_name"][image["file_name"]]
    detail = env["client"].get(f"/samples/{sample['id']}").json()
    cats = {c["id"]: c["name"] for c in data["categories"]}
    want = sorted(
        (cats[a["category_id"]], a["bbox"], a["area"]) for a in data["annotations"] if a["image_id"] == image["id"]
    )
    got = sorted((a["category"], a["bbox"], a["area"]) for a in detail["annotations"])
    assert got == want and len(got) == 3
    assert all(
        a["source"] == "ground_truth" and a["confidence"] is None and a["iscrowd"] is False
        for a in detail["annotations"]
    )
    assert detail["split"] == "train" and detail["dataset_id"] == env["id"] and detail["annotation_count"] == 3


def test_facets_follow_the_filter(env) -> None:
    data = env["data"]
    facets = env["client"].get(f"/datasets/{env['id']}/facets").json()
    assert facets["total"] == N
    assert {f["value"]: f["count"] for f in facets["splits"]} == {"train": 8, "val": 4}
    per_cat = {
        c["name"]: sum(1 for a in data["annotations"] if a["category_id"] == c["id"]) for c in data["categories"]
    }
    assert {f["value"]: f["annotations"] for f in facets["categories"]} == per_cat
    filtered = env["client"].get(f"/datasets/{env['id']}/facets", params={"split": "val", "category": "cat"}).json()
    by_id = {im["id"]: im for im in data["images"]}
    val_cat_images = {
        a["image_id"] for a in data["annotations"] if a["category_id"] == 1 and by_id[a["image_id"]]["split"] == "val"
    }
    assert filtered["total"] == len(val_cat_images)
    assert {f["value"]: f["count"] for f in filtered["splits"]} == {"val": len(val_cat_images)}
    cat_entry = next(f for f in filtered["categories"] if f["value"] == "cat")
    assert cat_entry["samples"] == len(val_cat_images)
    # every category's samples and boxes, against the COCO file, for filters the import summary cannot answer
    boxes_of = {im["id"]: [a for a in data["annotations"] if a["image_id"] == im["id"]] for im in data["images"]}
    keep = {
        "category": lambda im: any(a["category_id"] == 1 for a in boxes_of[im["id"]]),
        "min_annotations": lambda im: len(boxes_of[im["id"]]) >= 3,
        "search": lambda im: "special" in im["file_name"].lower(),
    }
    for key, value in (("category", "cat"), ("min_annotations", 3), ("search", "special")):
        got = env["client"].get(f"/datasets/{env['id']}/facets", params={key: value}).json()
        kept = [im for im in data["images"] if keep[key](im)]
        assert got["total"] == len(kept), key
        splits: dict[str, int] = {}
        for im in kept:
            splits[im["split"]] = splits.get(im["split"], 0) + 1
        assert {f["value"]: f["count"] for f in got["splits"]} == splits, key
        expected = {
            c["name"]: (
                sum(1 for im in kept if any(a["category_id"] == c["id"] for a in boxes_of[im["id"]])),
                sum(1 for im in kept for a in boxes_of[im["id"]] if a["category_id"] == c["id"]),
            )
            for c in data["categories"]
        }
        assert {f["value"]: (f["samples"], f["annotations"]) for f in got["categories"]} == expected, key
    bad = env["client"].get(f"/datasets/{env['id']}/facets", params={"min_annotations": -2})
    assert bad.status_code == 422


def test_statistics(env) -> None:
    data = env["data"]
    stats = env["client"].get(f"/datasets/{env['id']}/statistics").json()
    counts = expected_boxes(data)
    assert stats["totals"]["samples"] == N
    assert stats["totals"]["annotations"] == len(data["annotations"])
    assert stats["totals"]["categories"] == 3
    assert stats["images_without_annotations"] == sum(1 for v in counts.values() if v == 0)
    assert {s["split"]: s["samples"] for s in stats["splits"]} == {"train": 8, "val": 4}
    dist = {c["category"]: c["annotations"] for c in stats["class_distribution"]}
    assert dist == {
        c["name"]: sum(1 for a in data["annotations"] if a["category_id"] == c["id"]) for c in data["categories"]
    }
    bins = stats["box_size_histogram"]["bins"]
    assert sum(b["count"] for b in bins) == len(data["annotations"])
    for a in data["annotations"]:
        side = (a["bbox"][2] * a["bbox"][3]) ** 0.5
        assert any(b["min"] <= side and (b["max"] is None or side < b["max"]) and b["count"] for b in bins)
    assert sum(stats["box_sizes_coco"].values()) == len(data["annotations"])
    val = env["client"].get(f"/datasets/{env['id']}/statistics", params={"split": "val"}).json()
    assert val["totals"]["samples"] == 4


# -- tags and views ----------------------------------------------------------------------------------------
def test_tags_bulk_round_trip(env) -> None:
    client, dataset = env["client"], env["id"]
    ids = sorted(s["id"] for s in env["by_name"].values())
    r = client.post(f"/datasets/{dataset}/tags", json={"sample_ids": ids[:5], "add": ["review", "hard"]})
    assert r.status_code == 200 and r.json()["affected"] == 5 and r.json()["added"] == 10
    again = client.post(f"/datasets/{dataset}/tags", json={"sample_ids": ids[:5], "add": ["review"]}).json()
    assert again["affected"] == 0  # already tagged: idempotent
    assert page(env, tag="review")["total"] == 5
    r = client.post(f"/datasets/{dataset}/tags", json={"sample_ids": ids[3:8], "add": ["done"], "remove": ["hard"]})
    assert r.json()["affected"] == 5 and r.json()["removed"] == 2
    assert set(names(page(env, tag=["review", "hard"], limit=500))) == {
        s["file_name"] for s in env["by_name"].values() if s["id"] in ids[:3]
    }
    assert page(env, tag=["review", "done"])["total"] == 2  # all tags must match
    facets = client.get(f"/datasets/{dataset}/facets").json()
    assert {t["value"]: t["count"] for t in facets["tags"]} == {"review": 5, "hard": 3, "done": 5}
    detail = client.get(f"/samples/{ids[3]}").json()
    assert detail["tags"] == ["done", "review"]
    listed = {s["id"]: s["tags"] for s in page(env, limit=500)["items"]}
    assert listed[ids[0]] == ["hard", "review"] and listed[ids[10]] == []
    # ids of other datasets or unknown ids are not touched and not counted
    r = client.post(f"/datasets/{dataset}/tags", json={"sample_ids": [ids[0], 10**9], "remove": ["review"]}).json()
    assert r["matched"] == 1 and r["affected"] == 1
    # bad requests
    assert client.post(f"/datasets/{dataset}/tags", json={"sample_ids": [], "add": ["x"]}).status_code == 422
    assert client.post(f"/datasets/{dataset}/tags", json={"sample_ids": ids, "add": []}).status_code == 422
    too_many = list(range(10_001))
    assert client.post(f"/datasets/{dataset}/tags", json={"sample_ids": too_many, "add": ["x"]}).status_code == 422
    assert client.post("/datasets/999999/tags", json={"sample_ids": ids, "add": ["x"]}).status_code == 404
    # up to 10,000 ids in one request
    big = client.post(
        f"/datasets/{dataset}/tags",
        json={"sample_ids": ids + list(range(10**9, 10**9 + 9000)), "remove": ["review", "hard", "done"]},
    )
    assert big.status_code == 200
    assert client.get(f"/datasets/{dataset}/facets").json()["tags"] == []


def test_saved_views_round_trip(env) -> None:
    client, dataset = env["client"], env["id"]
    filters = {"split": "train", "category": "dog", "min_annotations": 1, "tag": [], "search": "img"}
    created = client.post(f"/datasets/{dataset}/views", json={"name": "train dogs", "filters": filters})
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == "train dogs" and view["filters"] == {k: v for k, v in filters.items() if v != []}
    assert client.get(f"/datasets/{dataset}/views/{view['id']}").json() == view
    assert [v["id"] for v in client.get(f"/datasets/{dataset}/views").json()] == [view["id"]]
    # the stored filters reproduce the same page
    assert page(env, **view["filters"])["total"] == page(env, **filters)["total"]
    dup = client.post(f"/datasets/{dataset}/views", json={"name": "train dogs", "filters": {}})
    assert dup.status_code == 409
    for bad in ({"sort_by": "x"}, {"min_annotations": -1}, {"colour": "red"}, {"tag": 5}):
        r = client.post(f"/datasets/{dataset}/views", json={"name": "bad", "filters": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"].startswith("filters:")
    assert client.delete(f"/datasets/{dataset}/views/{view['id']}").status_code == 204
    assert client.get(f"/datasets/{dataset}/views/{view['id']}").status_code == 404
    assert client.delete(f"/datasets/{dataset}/views/{view['id']}").status_code == 404
    assert client.get(f"/datasets/{dataset}/views").json() == []


# -- export ------------------------------------------------------------------------------------------------
def _boxes(client, dataset_id: int) -> dict[str, list]:
    items = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500}).json()["items"]
    out = {}
    for s in items:
        detail = client.get(f"/samples/{s['id']}").json()
        out[s["file_name"]] = (
            s["width"],
            s["height"],
            s["split"],
            sorted((a["category"], a["bbox"], a["area"], a["iscrowd"]) for a in detail["annotations"]),
        )
    return out


def test_export_then_reimport_gives_the_same_samples_and_boxes(env) -> None:
    client, dataset = env["client"], env["id"]
    response = client.get(f"/datasets/{dataset}/export", params={"format": "coco", "category": "dog"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    exported = response.json()
    selected = set(names(page(env, category="dog", limit=500)))
    assert {im["file_name"] for im in exported["images"]} == selected
    assert {c["name"] for c in exported["categories"]} == {"cat", "dog", "bird"}
    image_ids = {im["id"] for im in exported["images"]}
    assert all(a["image_id"] in image_ids for a in exported["annotations"])
    out = env["root"] / "export-dogs.json"
    out.write_text(response.text)
    job = import_dataset(client, "dogs again", out, fmt="coco", images_dir=str(env["root"] / "images"))
    assert job["state"] == "succeeded", job
    original = {k: v for k, v in _boxes(client, dataset).items() if k in selected}
    assert _boxes(client, job["dataset_id"]) == original
    # the whole dataset too
    everything = client.get(f"/datasets/{dataset}/export").json()
    assert len(everything["images"]) == N and len(everything["annotations"]) == len(env["data"]["annotations"])
    assert client.get(f"/datasets/{dataset}/export", params={"format": "voc"}).status_code == 422
    copy = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"][0]["id"]
    assert client.get(f"/images/{copy}", params={"size": "original"}).status_code == 200  # its path is now cached
    assert client.delete(f"/datasets/{job['dataset_id']}").status_code == 204
    gone = client.get(f"/images/{copy}", params={"size": "original"})
    assert gone.status_code == 404 and str(copy) in gone.json()["detail"]


# -- images ------------------------------------------------------------------------------------------------
def test_thumbnails_are_webp_of_the_right_size_and_cached(env) -> None:
    client, server = env["client"], env["server"]
    sample = env["by_name"]["chelsea.png"]
    cache = server.state_dir / "thumbnails"
    for size, edge in (("small", 128), ("medium", 256), ("large", 512)):
        response = client.get(f"/images/{sample['id']}", params={"size": size})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/webp"
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "WEBP"
        assert max(image.size) == min(edge, 451)
        assert abs(image.size[0] / image.size[1] - 451 / 300) < 0.02
        # the cat is orange-brown: the thumbnail holds the photo, not a blank
        r, g, b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
        assert r > b
    cached = sorted(p.name for p in cache.rglob("*.webp"))
    assert len(cached) == 3 and all(name.startswith(f"{sample['id']}-") for name in cached)
    mtimes = {p: p.stat().st_mtime_ns for p in cache.rglob("*.webp")}
    client.get(f"/images/{sample['id']}", params={"size": "small"})
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.webp")} == mtimes  # served from the cache
    assert client.get(f"/images/{sample['id']}", params={"size": "huge"}).status_code == 422


def test_a_thumbnail_revalidates_to_304_until_its_file_changes(env) -> None:
    client = env["client"]
    sample = env["by_name"]["img_007.jpg"]
    url, small = f"/images/{sample['id']}", {"size": "small"}
    first = client.get(url, params=small)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "private, max-age=3600"
    assert client.get(url, params=small).content == first.content  # from memory, the same bytes
    same = client.get(url, params=small, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert client.get(url, params=small, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(url, params=small, headers={"If-None-Match": '"other"'}).status_code == 200
    medium = client.get(url, params={"size": "medium"}, headers={"If-None-Match": etag})
    assert medium.status_code == 200 and medium.headers["etag"] != etag  # another size, another tag
    path = env["root"] / "images" / "img_007.jpg"
    content, info = path.read_bytes(), path.stat()
    try:  # the file is edited (new mtime): a new tag and the new picture, not the one in memory
        with Image.open(io.BytesIO(content)) as old:
            Image.new("RGB", old.size, (250, 250, 250)).save(path, format="JPEG")
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
        edited = client.get(url, params=small, headers={"If-None-Match": etag})
        assert edited.status_code == 200 and edited.headers["etag"] != etag
        assert Image.open(io.BytesIO(edited.content)).convert("RGB").resize((1, 1)).getpixel((0, 0))[0] > 240
    finally:
        path.write_bytes(content)
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert client.get(url, params=small, headers={"If-None-Match": etag}).status_code == 304


def test_original_is_streamed_with_its_content_type(env) -> None:
    client = env["client"]
    png = client.get(f"/images/{env['by_name']['chelsea.png']['id']}", params={"size": "original"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == (env["root"] / "images" / "chelsea.png").read_bytes()
    jpg = client.get(f"/images/{env['by_name']['img_000.jpg']['id']}", params={"size": "original"})
    assert jpg.headers["content-type"] == "image/jpeg"


def test_vanished_file_is_404_not_500(env) -> None:
    client = env["client"]
    sample = env["by_name"]["img_001.jpg"]
    assert client.get(f"/images/{sample['id']}", params={"size": "small"}).status_code == 200  # now cached
    path = env["root"] / "images" / "img_001.jpg"
    content = path.read_bytes()
    path.unlink()
    try:
        for size in ("small", "medium", "original"):
            response = client.get(f"/images/{sample['id']}", params={"size": size})
            assert response.status_code == 404, response.text
            # the path it looked at, and that nothing is there (it may never have existed)
            assert response.json()["detail"].startswith(f"{path}: file not found at this path"), response.text
    finally:
        path.write_bytes(content)
    assert client.get(f"/images/{sample['id']}", params={"size": "small"}).status_code == 200


def test_corrupt_image_is_422_and_symlink_swapped_out_of_root_is_403(env, tmp_path: Path) -> None:
    client = env["client"]
    sample = env["by_name"]["img_004.jpg"]
    path = env["root"] / "images" / "img_004.jpg"
    content = path.read_bytes()
    try:
        path.write_bytes(b"not an image at all")
        response = client.get(f"/images/{sample['id']}", params={"size": "large"})
        assert response.status_code == 422 and "img_004.jpg: not a readable image" in response.json()["detail"]
        path.unlink()
        secret = tmp_path / "secret.jpg"
        secret.write_bytes(content)
        path.symlink_to(secret)
        for size in ("original", "medium"):
            response = client.get(f"/images/{sample['id']}", params={"size": size})
            assert response.status_code == 403, response.text
    finally:
        path.unlink()
        path.write_bytes(content)


@pytest.mark.parametrize("split", [None, "val", "train", "nope"])
def test_import_summary_equals_live_aggregates(env, split: str | None) -> None:
    """Facets/statistics filtered at most by split come from the import summary; min_annotations=0
    selects the same samples but forces the live SQL path: both must agree exactly."""
    client, dataset = env["client"], env["id"]
    base = {"split": split} if split else {}
    for route in ("facets", "statistics"):
        stored = client.get(f"/datasets/{dataset}/{route}", params=base).json()
        live = client.get(f"/datasets/{dataset}/{route}", params={**base, "min_annotations": 0}).json()
        assert stored == live, route
