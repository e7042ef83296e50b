"""Imports through the real server: missing images and skipped entries reported in the job result and
the dataset, export keeping the source's ids (a results file still applies to the re-imported export),
YOLO export, split selection, and deleting a dataset while it is being embedded."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.support.datasets import coco_dict, import_dataset, make_coco, wait_job, write_image
from tests.support.server import Server, fresh_server


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[Server]:
    with fresh_server(tmp_path_factory, "ingest") as server:
        yield server


@pytest.fixture
def case(shared: Server, request) -> tuple[Server, Path]:
    with shared.client() as client:
        for dataset in client.get("/datasets").json():
            assert client.delete(f"/datasets/{dataset['id']}").status_code == 204
    folder = shared.state_dir / "datasets" / request.node.name
    folder.mkdir()
    return shared, folder


def test_some_missing_images_succeed_and_are_reported(case) -> None:
    server, root = case
    data = coco_dict(4)
    ann = make_coco(root / "coco", data=data)
    del data["annotations"][0]["bbox"]  # segmentation-only: skipped and counted
    ann.write_text(json.dumps(data))
    missing = root / "coco" / "images" / "img_002.jpg"
    missing.unlink()
    with server.client() as client:
        job = import_dataset(client, "partial", ann)
        assert job["state"] == "succeeded", job
        expected = {
            "missing_images": 1,
            "missing_examples": [str(missing)],
            "skipped": {"annotation_without_bbox": 1},
            "skipped_examples": {"annotation_without_bbox": ["annotations.json: annotation 1"]},
        }
        assert job["result"]["issues"] == expected
        assert "1 image files not found" in job["message"] and "annotation without bbox" in job["message"]
        dataset = client.get(f"/datasets/{job['dataset_id']}").json()
        assert dataset["issues"] == expected
        assert dataset["counts"]["samples"] == 4  # kept: its boxes still count
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
        gone = next(s for s in items if s["file_name"] == "img_002.jpg")
        response = client.get(f"/images/{gone['id']}", params={"size": "small"})
        assert response.status_code == 404
        assert response.json()["detail"].startswith(f"{missing}: file not found at this path")


def test_all_images_missing_fails_saying_where_unless_annotations_only(case) -> None:
    server, root = case
    ann = make_coco(root / "coco", images=False)
    with server.client() as client:
        job = import_dataset(client, "nothing", ann)
        assert job["state"] == "failed"
        assert "none of the 6 image files was found; looked in" in job["error"]
        assert str(root / "coco") in job["error"]
        job = import_dataset(client, "boxes-only", ann, annotations_only=True)
        assert job["state"] == "succeeded" and job["result"]["issues"]["missing_images"] == 6


def test_the_instances_split_layout_finds_its_images(case) -> None:
    """annotations/instances_val.json next to images/val/ used to import with every image a 404."""
    server, root = case
    data = coco_dict(3)
    for image in data["images"]:
        write_image(root / "images" / "val" / image["file_name"], (image["width"], image["height"]))
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "split-layout", root)
        assert job["state"] == "succeeded", job
        assert job["result"]["issues"]["missing_images"] == 0
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
        for item in items:
            assert client.get(f"/images/{item['id']}", params={"size": "small"}).status_code == 200


def _map(client, dataset_id: int, results: Path) -> float:
    response = client.post(
        f"/datasets/{dataset_id}/predictions", json={"run": "r1", "path": str(results), "format": "coco_results"}
    )
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["job_id"])
    assert job["state"] == "succeeded", job
    return client.get(f"/datasets/{dataset_id}/evaluation", params={"run": "r1"}).json()["map"]


def test_an_ambiguous_tree_is_a_422_naming_the_candidates(case) -> None:
    """A COCO file next to images/ plus a class folder: auto answers 422 naming both; `format` chooses."""
    server, root = case
    make_coco(root, n_images=2)
    write_image(root / "cat" / "x.jpg", (16, 16))
    with server.client() as client:
        r = client.post("/datasets", json={"name": "which", "path": str(root)})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert "ambiguous layout" in detail and "coco (annotations.json)" in detail and "folders (class" in detail
        assert "pass format" in detail
        job = import_dataset(client, "chosen", root, fmt="coco")
        assert job["state"] == "succeeded", job


def test_export_keeps_ids_so_the_original_results_file_gives_the_same_map(case) -> None:
    server, root = case
    data = coco_dict(6)
    for i, image in enumerate(data["images"]):
        image["id"] = 42 + 17 * i  # sparse ids: a renumbering export cannot keep them by accident
    for a in data["annotations"]:
        a["image_id"] = 42 + 17 * (a["image_id"] - 100)
        a["id"] += 1000
    ann = make_coco(root / "coco", data=data)
    results = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": [v + k for v in a["bbox"]], "score": s}
        for k, (a, s) in enumerate(
            zip(data["annotations"], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], strict=False)
        )
    ]
    (root / "results.json").write_text(json.dumps(results))
    with server.client() as client:
        first = import_dataset(client, "original", ann)
        assert first["state"] == "succeeded", first
        original_map = _map(client, first["dataset_id"], root / "results.json")
        exported = client.get(f"/datasets/{first['dataset_id']}/export", params={"format": "coco"})
        assert exported.status_code == 200
        document = exported.json()
        assert sorted(i["id"] for i in document["images"]) == sorted(i["id"] for i in data["images"])
        assert sorted(a["id"] for a in document["annotations"]) == sorted(a["id"] for a in data["annotations"])
        assert sorted(c["id"] for c in document["categories"]) == [1, 2, 5]
        (root / "export.json").write_text(exported.text)
        again = import_dataset(client, "reimported", root / "export.json", images_dir=str(root / "coco" / "images"))
        assert again["state"] == "succeeded", again
        assert _map(client, again["dataset_id"], root / "results.json") == original_map
        assert 0 < original_map < 1


def test_yolo_export_reimports_to_the_same_boxes(case) -> None:
    server, root = case
    ann = make_coco(root / "coco")
    with server.client() as client:
        job = import_dataset(client, "source", ann)
        # edited first (issue 16: the YOLO export writes the corrected ground truth): move, delete, create
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
        boxes_of = {s["id"]: client.get(f"/samples/{s['id']}").json()["annotations"] for s in items}
        with_two = next(sid for sid, anns in boxes_of.items() if len(anns) >= 2)
        a, b = boxes_of[with_two][:2]
        moved = client.patch(f"/annotations/{a['id']}", json={"version": a["version"], "bbox": [2, 3, 10, 8]})
        assert moved.status_code == 200, moved.text
        assert client.delete(f"/annotations/{b['id']}", params={"version": b["version"]}).status_code == 200
        empty = next(sid for sid, anns in boxes_of.items() if not anns)
        created = client.post(f"/samples/{empty}/annotations", json={"bbox": [1, 1, 20, 12], "category": "dog"})
        assert created.status_code == 201, created.text
        exported = client.get(f"/datasets/{job['dataset_id']}/export", params={"format": "yolo"})
        assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
        target = root / "yolo"
        with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
            archive.extractall(target)
        shutil.copytree(root / "coco" / "images", target / "images")
        again = import_dataset(client, "yolo-copy", target)
        assert again["state"] == "succeeded", again

        def boxes(dataset_id: int) -> list:
            out = []
            for item in client.get(f"/datasets/{dataset_id}/samples").json()["items"]:
                detail = client.get(f"/samples/{item['id']}").json()
                name = item["file_name"].removeprefix("images/")
                out += [(name, a["category"], [round(v, 2) for v in a["bbox"]]) for a in detail["annotations"]]
            return sorted(out)

        assert boxes(again["dataset_id"]) == boxes(job["dataset_id"])
        assert len(boxes(job["dataset_id"])) == 7  # 7 imported, one deleted, one drawn
        assert [2.0, 3.0, 10.0, 8.0] in [box for _, _, box in boxes(again["dataset_id"])]


def test_yolo_export_of_boxes_on_an_image_without_a_size_is_a_422_naming_it(case) -> None:
    """A COCO image without width/height whose file is missing keeps its boxes but has no size; YOLO boxes are
    relative to it, so the export left them out without a word. Now: 422 naming the image; COCO exports them."""
    server, root = case
    data = coco_dict(4)
    ann = make_coco(root / "coco", data=data)
    del data["images"][2]["width"], data["images"][2]["height"]  # img_002: two boxes
    ann.write_text(json.dumps(data))
    (root / "coco" / "images" / "img_002.jpg").unlink()
    with server.client() as client:
        job = import_dataset(client, "unsized", ann)
        assert job["state"] == "succeeded" and job["result"]["issues"]["missing_images"] == 1, job
        r = client.get(f"/datasets/{job['dataset_id']}/export", params={"format": "yolo"})
        assert r.status_code == 422, (r.status_code, r.content[:200])
        assert "img_002.jpg" in r.json()["detail"] and "no known size" in r.json()["detail"], r.json()
        coco = client.get(f"/datasets/{job['dataset_id']}/export", params={"format": "coco"}).json()
        assert len(coco["annotations"]) == len(data["annotations"])
        # leaving that image out with a filter exports the rest
        r = client.get(f"/datasets/{job['dataset_id']}/export", params={"format": "yolo", "search": "img_001"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"


def test_split_selects_one_split_of_a_yolo_data_yaml(case) -> None:
    server, root = case
    for split in ("train", "val"):
        write_image(root / "images" / split / f"{split}.jpg", (40, 20))
        (root / "labels" / split).mkdir(parents=True)
        (root / "labels" / split / f"{split}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [thing]\n")
    with server.client() as client:
        job = import_dataset(client, "val-only", root, split="val")
        assert job["state"] == "succeeded", job
        splits = client.get(f"/datasets/{job['dataset_id']}").json()["counts"]["splits"]
        assert splits == {"val": {"samples": 1, "annotations": 1}}
        response = client.post("/datasets", json={"name": "x", "path": str(root), "split": "test"})
        assert response.status_code == 422 and "no split 'test'" in response.json()["detail"]


# -- embeddings ---------------------------------------------------------------------------------------
def test_embedding_summary_counts_embedded_skipped_and_failed(case) -> None:
    server, root = case
    for name in ("a", "b", "c"):
        write_image(root / "thing" / f"{name}.jpg", (32, 32))
    with server.client() as client:
        job = import_dataset(client, "three", root, fmt="folders")
        (root / "thing" / "b.jpg").unlink()  # skipped: missing
        (root / "thing" / "c.jpg").write_bytes(b"not a picture")  # failed: undecodable
        run = wait_job(client, client.post(f"/datasets/{job['dataset_id']}/embeddings").json()["job_id"], 180)
        assert run["state"] == "succeeded", run
        result = run["result"]
        assert (result["embedded"], result["skipped"], result["failed"]) == (1, 1, 1), result
        assert result["reasons"] == {"missing": 1, "undecodable": 1}
        assert "embedded 1, skipped 1, failed 1 of 3" in run["message"]


def test_delete_during_an_embedding_job_cancels_waits_and_removes_every_vector(server_factory, tmp_path) -> None:
    server = server_factory(torch_threads=1)
    root = server.state_dir / "datasets" / "many"
    for i in range(96):
        write_image(root / ("odd" if i % 2 else "even") / f"{i:03d}.jpg", (64 + i, 48), (i * 2, 100, 200 - i))
    with server:
        with server.client() as client:
            dataset_id = import_dataset(client, "many", root, fmt="folders")["dataset_id"]
            job_id = client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"]
            wait_job(client, job_id, 180, states=frozenset({"running"}))
            while client.get(f"/jobs/{job_id}").json()["done"] < 16:  # some vectors pending in memory
                pass
            assert client.delete(f"/datasets/{dataset_id}").status_code == 204
            assert client.get(f"/jobs/{job_id}").json()["state"] in ("cancelled", "failed", "succeeded")
            assert client.get(f"/datasets/{dataset_id}").status_code == 404
    with duckdb.connect(str(server.db_path), read_only=True) as con:
        for table in ("embeddings", "sample_uniqueness", "samples", "annotations"):
            left = con.execute(f"SELECT count(*) FROM {table} WHERE dataset_id = ?", [dataset_id]).fetchone()[0]
            assert left == 0, (table, left)
