"""Importing COCO, YOLO and class folders through the real server: formats, auto-detection and splits,
all-or-nothing failures with clear messages, path confinement, plugin hooks, persistence."""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.datasets import coco_dict, import_dataset, make_coco, wait_job, write_image, write_photo
from tests.support.server import Server, fresh_server


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[Server]:
    """One server for the module (starting one costs seconds); each test gets a clean slate below."""
    with fresh_server(tmp_path_factory, "imports") as server:
        yield server


@pytest.fixture
def server(shared: Server, request) -> Server:
    """The shared server with no datasets and a fresh folder of its own inside the data root."""
    with shared.client() as client:
        for dataset in client.get("/datasets").json():
            assert client.delete(f"/datasets/{dataset['id']}").status_code == 204
    shared.case = shared.state_dir / "datasets" / request.node.name
    shared.case.mkdir()
    return shared


def roots(server) -> Path:
    """This test's folder inside the data root (or the data root of a server of its own)."""
    return getattr(server, "case", None) or server.state_dir / "datasets"


def counts(client, dataset_id: int) -> dict:
    response = client.get(f"/datasets/{dataset_id}")
    assert response.status_code == 200, response.text
    return response.json()["counts"]


def all_samples(client, dataset_id: int, **params) -> list[dict]:
    body = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500, **params}).json()
    return body["items"]


# -- COCO ----------------------------------------------------------------------------------------------
def test_coco_import_counts_boxes_and_header_sizes(server) -> None:
    data = coco_dict(6)
    ann = make_coco(roots(server) / "coco", data=data)  # JPEG of image 0 is 64 x 48
    del data["images"][0]["width"], data["images"][0]["height"]  # read from the JPEG header instead
    ann.write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "coco", ann, fmt="coco")
        assert job["state"] == "succeeded", job
        assert job["done"] == job["total"] == 6
        c = counts(client, job["dataset_id"])
        assert c == {
            "samples": 6,
            "annotations": 7,
            "categories": 3,
            "splits": {"none": {"samples": 6, "annotations": 7}},
        }
        samples = {s["file_name"]: s for s in all_samples(client, job["dataset_id"])}
        assert (samples["img_000.jpg"]["width"], samples["img_000.jpg"]["height"]) == (64, 48)
        detail = client.get(f"/samples/{samples['img_003.jpg']['id']}").json()
        boxes = sorted(
            (a["category"], a["bbox"], a["area"], a["iscrowd"], a["source"], a["confidence"])
            for a in detail["annotations"]
        )
        assert boxes == [
            ("bird", [3.0, 4.0, 13.0, 10.0], 130.0, False, "ground_truth", None),
            ("cat", [1.0, 2.0, 13.0, 8.0], 104.0, False, "ground_truth", None),
            ("dog", [2.0, 3.0, 13.0, 9.0], 117.0, False, "ground_truth", None),
        ]
        listed = client.get("/datasets").json()
        assert [d["name"] for d in listed] == ["coco"] and listed[0]["status"] == "ready"


def test_coco_missing_size_and_missing_file_fails_clearly(server) -> None:
    data = coco_dict(3)
    del data["images"][1]["width"]
    ann = make_coco(roots(server) / "coco", data=data, images=False)
    with server.client() as client:
        job = import_dataset(client, "nosize", ann, fmt="coco")
        assert job["state"] == "failed"
        # none of the images exists: the job says where it looked (issue 11, point 5)
        assert "none of the 3 image files was found; looked in" in job["error"], job["error"]
        assert "img_000.jpg" in job["error"]
        assert client.get(f"/datasets/{job['dataset_id']}").status_code == 404


BAD_COCO = {
    "bad_json": ('{"images": [', "Malformed JSON"),
    "truncated": (None, "Malformed JSON"),
    "missing_image": ("missing_image", "instances.json: image_id 999 is not in 'images' (annotation 1)"),
    "negative_box": ("negative_box", "instances.json: negative box [1.0, 2.0, -4.0, 8.0] (annotation 2)"),
    "unknown_category": ("unknown_category", "instances.json: unknown category_id 77 (annotation 3)"),
    "not_a_list": ('{"images": 5, "categories": []}', "instances.json"),
    "empty": ("", "empty"),
    "nul_in_file_name": (
        "nul_in_file_name",
        "instances.json: file_name 'a\\x00b.jpg' contains a NUL character (image 101)",
    ),
}


def _bad_coco_text(kind: str) -> str:
    data = coco_dict(6)
    if kind == "truncated":
        return json.dumps(data)[:-40]
    if kind == "missing_image":
        data["annotations"][0]["image_id"] = 999
    elif kind == "negative_box":
        data["annotations"][1]["bbox"][2] = -4.0
    elif kind == "unknown_category":
        data["annotations"][2]["category_id"] = 77
    elif kind == "nul_in_file_name":  # was a failed job saying only "ValueError: embedded null byte"
        data["images"][1]["file_name"] = "a\x00b.jpg"
    else:
        return BAD_COCO[kind][0]
    return json.dumps(data)


@pytest.mark.parametrize("kind", sorted(BAD_COCO))
def test_bad_coco_fails_whole_import_and_leaves_other_datasets_alone(server, kind: str) -> None:
    good = make_coco(roots(server) / "good")
    bad_dir = roots(server) / "bad"
    bad_dir.mkdir(parents=True)
    bad = bad_dir / "instances.json"
    bad.write_text(_bad_coco_text(kind))
    with server.client() as client:
        first = import_dataset(client, "good", good)
        assert first["state"] == "succeeded"
        before = client.get(f"/datasets/{first['dataset_id']}/samples", params={"limit": 500}).json()
        job = import_dataset(client, "bad", bad, fmt="coco")
        assert job["state"] == "failed", job
        assert "instances.json" in job["error"], job["error"]
        assert BAD_COCO[kind][1] in job["error"], job["error"]
        # nothing partial: no dataset row, no samples; the other dataset is unchanged
        assert client.get(f"/datasets/{job['dataset_id']}").status_code == 404
        assert [d["name"] for d in client.get("/datasets").json()] == ["good"]
        assert client.get(f"/datasets/{first['dataset_id']}/samples", params={"limit": 500}).json() == before
        # the name is free again: a corrected file imports under it
        bad.write_text(json.dumps(coco_dict(2)))
        again = import_dataset(client, "bad", bad, fmt="coco", images_dir=str(roots(server) / "good" / "images"))
        assert again["state"] == "succeeded", again
        assert counts(client, again["dataset_id"])["samples"] == 2


def test_duplicate_name_is_409_and_unknown_format_is_422(server) -> None:
    ann = make_coco(roots(server) / "coco")
    with server.client() as client:
        assert import_dataset(client, "same", ann)["state"] == "succeeded"
        response = client.post("/datasets", json={"name": "same", "format": "coco", "path": str(ann)})
        assert response.status_code == 409 and "already exists" in response.json()["detail"]
        response = client.post("/datasets", json={"name": "x", "format": "pascal", "path": str(ann)})
        assert response.status_code == 422
        response = client.post("/datasets", json={"name": "x", "format": "yolo", "path": str(ann.parent)})
        assert response.status_code == 422 and "not a YOLO dataset" in response.json()["detail"]
        response = client.post("/datasets", json={"name": "x", "format": "auto", "path": "does/not/exist"})
        assert response.status_code == 422 and "does not exist" in response.json()["detail"]


# -- paths ---------------------------------------------------------------------------------------------
def test_paths_outside_the_data_roots_are_403(server, tmp_path: Path) -> None:
    outside = make_coco(tmp_path / "outside")
    inside = make_coco(roots(server) / "inside")
    link = roots(server) / "escape"
    link.symlink_to(tmp_path / "outside", target_is_directory=True)
    attempts = [
        {"path": str(outside)},  # absolute, outside
        {"path": "../../outside/annotations.json"},  # relative with ..
        {"path": str(roots(server) / ".." / ".." / "outside" / "annotations.json")},  # absolute with ..
        {"path": str(link.relative_to(server.state_dir / "datasets") / "annotations.json")},  # symlink out
        {"path": "/etc/passwd"},
        {"path": str(inside), "images_dir": str(tmp_path / "outside" / "images")},  # images_dir outside
    ]
    with server.client() as client:
        for attempt in attempts:
            response = client.post("/datasets", json={"name": "escape", "format": "coco", **attempt})
            assert response.status_code == 403, (attempt, response.text)
            assert "outside the allowed data roots" in response.json()["detail"]
        assert client.get("/datasets").json() == []
        # relative paths inside the root are fine
        relative = inside.relative_to(server.state_dir / "datasets")
        job = import_dataset(client, "relative", str(relative), fmt="coco")
        assert job["state"] == "succeeded"


def test_image_symlinked_out_of_the_root_is_refused_at_import(server, tmp_path: Path) -> None:
    root = roots(server) / "classes"
    write_image(root / "cat" / "a.jpg", (20, 10))
    write_image(tmp_path / "secret.jpg", (20, 10))
    (root / "dog").mkdir()
    (root / "dog" / "b.jpg").symlink_to(tmp_path / "secret.jpg")
    with server.client() as client:
        job = import_dataset(client, "links", root, fmt="folders")
        assert job["state"] == "failed"
        assert "outside the allowed data roots" in job["error"] and "b.jpg" in job["error"]


# -- YOLO ----------------------------------------------------------------------------------------------
def make_yolo(root: Path) -> Path:
    (root).mkdir(parents=True)
    (root / "data.yaml").write_text(
        yaml.safe_dump(
            {"path": "/somewhere/else", "train": "images/train", "val": "images/val", "names": {0: "person", 1: "car"}}
        )
    )
    write_image(root / "images/train/a.jpg", (200, 100))
    (root / "labels/train").mkdir(parents=True)
    (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n")
    write_image(root / "images/train/b.png", (50, 50))  # no label file: an image without boxes
    write_image(root / "images/val/c.jpg", (100, 80))
    (root / "labels/val").mkdir(parents=True)
    (root / "labels/val/c.txt").write_text("1 0.5 0.5 1.0 1.0\n")
    return root


def test_yolo_import_with_splits_converts_boxes(server) -> None:
    root = make_yolo(roots(server) / "yolo")
    with server.client() as client:
        job = import_dataset(client, "yolo", root)  # auto
        assert job["state"] == "succeeded", job
        c = counts(client, job["dataset_id"])
        assert c["samples"] == 3 and c["annotations"] == 3 and c["categories"] == 2
        assert c["splits"] == {"train": {"samples": 2, "annotations": 2}, "val": {"samples": 1, "annotations": 1}}
        samples = {s["file_name"]: s for s in all_samples(client, job["dataset_id"])}
        assert set(samples) == {"images/train/a.jpg", "images/train/b.png", "images/val/c.jpg"}
        detail = client.get(f"/samples/{samples['images/train/a.jpg']['id']}").json()
        boxes = sorted((a["category"], [round(v, 6) for v in a["bbox"]]) for a in detail["annotations"])
        assert boxes == [("car", [40.0, 20.0, 20.0, 10.0]), ("person", [80.0, 30.0, 40.0, 40.0])]
        assert client.get(f"/datasets/{job['dataset_id']}").json()["format"] == "yolo"


def test_yolo_bad_label_line_names_file_and_line(server) -> None:
    root = make_yolo(roots(server) / "yolo")
    (root / "labels/val/c.txt").write_text("1 0.5 0.5 1.0 1.0\n7 0.5 0.5 0.1 0.1\n")
    with server.client() as client:
        job = import_dataset(client, "yolo", root, fmt="yolo")
        assert job["state"] == "failed"
        assert job["error"].startswith("labels/val/c.txt: unknown class 7"), job["error"]
        assert job["error"].endswith("(line 2)"), job["error"]
        (root / "labels/val/c.txt").write_text("1 0.5 0.5\n")
        job = import_dataset(client, "yolo", root, fmt="yolo")
        assert job["error"].startswith("labels/val/c.txt: expected 'class cx cy w h'"), job["error"]
        assert job["error"].endswith("(line 1)"), job["error"]
        # data.yaml that PyYAML cannot take apart (a RecursionError: a 500), or whose class names are
        # lists (aliases nested ten deep: turning them into text took exponential time and memory)
        laughs = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'x'] * 9)}]\n" for i in range(10))
        for text, words in (
            ("names: " + "[" * 3000 + "]" * 3000 + "\n", "data.yaml: not valid YAML: nested too deeply"),
            (laughs + "names: [*l9, b]\n", "data.yaml: the name of class 0 must be text, not a list"),
        ):
            (root / "data.yaml").write_text(text)
            response = client.post("/datasets", json={"name": "yolo", "format": "yolo", "path": str(root)})
            assert response.status_code == 422, response.text
            assert response.json()["detail"].startswith(words), response.text
        assert client.get("/datasets").json() == []


# -- class folders ---------------------------------------------------------------------------------------
def test_folders_with_splits_and_real_photos(server) -> None:
    root = roots(server) / "animals"
    write_photo(root / "train" / "cat" / "chelsea.png", "chelsea")
    write_photo(root / "train" / "coffee" / "coffee.png", "coffee")
    write_photo(root / "valid" / "cat" / "chelsea2.png", "chelsea")
    with server.client() as client:
        job = import_dataset(client, "animals", root)
        assert job["state"] == "succeeded", job
        detail = client.get(f"/datasets/{job['dataset_id']}").json()
        assert detail["format"] == "folders"
        assert detail["counts"]["splits"] == {
            "train": {"samples": 2, "annotations": 2},
            "val": {"samples": 1, "annotations": 1},
        }
        items = {s["file_name"]: s for s in all_samples(client, job["dataset_id"])}
        assert (items["train/cat/chelsea.png"]["width"], items["train/cat/chelsea.png"]["height"]) == (451, 300)
        one = client.get(f"/samples/{items['train/coffee/coffee.png']['id']}").json()
        assert [(a["category"], a["bbox"]) for a in one["annotations"]] == [("coffee", [0.0, 0.0, 600.0, 400.0])]
        cats = client.get(f"/datasets/{job['dataset_id']}/samples", params={"category": "cat"}).json()
        assert cats["total"] == 2


def test_folders_without_splits_and_forced_split(server) -> None:
    root = roots(server) / "flat"
    write_image(root / "a" / "1.jpg", (10, 10))
    write_image(root / "b" / "2.jpg", (12, 10))
    with server.client() as client:
        job = import_dataset(client, "flat", root, fmt="folders", split="test")
        assert job["state"] == "succeeded", job
        assert counts(client, job["dataset_id"])["splits"] == {"test": {"samples": 2, "annotations": 2}}


def test_folders_with_symlink_loops_deep_trees_and_names_that_are_not_utf8(server) -> None:
    """Symlinks back up the tree made the walk exponential (the import never ended, its cancel was never
    seen, and every later job waited behind it); a tree deeper than Python's recursion limit and names that
    are not UTF-8 failed the import with a bare RecursionError or UnicodeEncodeError. Each folder is walked
    once, by a loop, and such names are left out."""
    root = roots(server) / "loops"
    write_image(root / "cat" / "1.jpg", (10, 10))
    write_image(root / "dog" / "deep" / "2.jpg", (12, 10))
    for name in ("self1", "self2", "self3"):
        (root / "cat" / name).symlink_to(".")
    (root / "dog" / "deep" / "up").symlink_to("..")
    deep = root / "dog"
    for _ in range(1100):  # deeper than Python's recursion limit: was a bare RecursionError
        deep = deep / "d"
        deep.mkdir()
    os.link(root / "cat" / "1.jpg", deep / "3.jpg")
    raw = os.fsencode(root)
    os.makedirs(raw + b"/\xffbird")
    os.link(root / "cat" / "1.jpg", raw + b"/\xffbird/3.jpg")
    os.link(root / "cat" / "1.jpg", raw + b"/cat/\xfe.jpg")
    with server.client() as client:
        job = import_dataset(client, "loops", root, fmt="folders")
        assert job["state"] == "succeeded", job
        unnamed = {"file_name_not_utf8": 2}  # the folder \xffbird and cat/\xfe.jpg: counted, not only logged
        assert job["result"]["issues"]["skipped"] == unnamed, job["result"]["issues"]
        assert client.get(f"/datasets/{job['dataset_id']}").json()["issues"]["skipped"] == unnamed
        assert "skipped 2 file name not utf8" in job["message"], job["message"]
        c = counts(client, job["dataset_id"])
        assert (c["samples"], c["categories"]) == (3, 2), c
        names = sorted(s["file_name"] for s in all_samples(client, job["dataset_id"]))
        assert names == ["cat/1.jpg", "dog/" + "d/" * 1100 + "3.jpg", "dog/deep/2.jpg"], names
    # removed here, bottom up: shutil.rmtree (pytest's clean-up of old temp folders) recurses per level too
    (deep / "3.jpg").unlink()
    while deep != root / "dog":
        deep.rmdir()
        deep = deep.parent


# -- auto detection of COCO split layouts ----------------------------------------------------------------
def test_auto_detects_coco2017_layout_with_splits(server) -> None:
    root = roots(server) / "coco2017"
    for split, n in (("train2017", 4), ("val2017", 2)):
        data = coco_dict(n)
        for image in data["images"]:
            write_image(root / split / image["file_name"], (image["width"], image["height"]))
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "coco2017", root)
        assert job["state"] == "succeeded", job
        c = counts(client, job["dataset_id"])
        assert c["splits"] == {"train": {"samples": 4, "annotations": 6}, "val": {"samples": 2, "annotations": 1}}
        assert c["categories"] == 3
        sample = all_samples(client, job["dataset_id"], split="val")[0]
        assert client.get(f"/images/{sample['id']}", params={"size": "original"}).status_code == 200


def test_auto_detects_roboflow_coco_layout(server) -> None:
    root = roots(server) / "roboflow"
    for split, n in (("train", 3), ("valid", 2), ("test", 1)):
        data = coco_dict(n)
        for image in data["images"]:
            write_image(root / split / image["file_name"], (image["width"], image["height"]))
        (root / split / "_annotations.coco.json").write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "rf", root)
        assert job["state"] == "succeeded", job
        splits = counts(client, job["dataset_id"])["splits"]
        assert {k: v["samples"] for k, v in splits.items()} == {"test": 1, "train": 3, "val": 2}


# -- plugins ---------------------------------------------------------------------------------------------
RECORDER = """
    import json
    import time
    from pathlib import Path

    from app.plugins import BasePlugin

    class Recorder(BasePlugin):
        name = "recorder"

        def __init__(self):
            self.out = None

        def on_startup(self, settings):
            self.out = Path(settings.db_path).parent / "hooks.jsonl"

        def _log(self, **event):
            with open(self.out, "a") as handle:
                handle.write(json.dumps(event) + "\\n")

        def on_ingest_started(self, ctx):
            self._log(hook="started", dataset=ctx.dataset_name, total=ctx.total, format=ctx.format)

        def on_sample_ingested(self, ctx, sample):
            if ctx.dataset_name.startswith("slow"):
                time.sleep(0.3)
                return sample
            self._log(hook="sample", file=sample.file_name, boxes=sample.annotation_count)
            sample.fields["name_length"] = len(sample.file_name)
            if sample.annotation_count >= 3:
                sample.tags.append("busy")
            return sample

        def on_ingest_completed(self, ctx, summary):
            self._log(hook="completed", summary=summary)

    plugin = Recorder()
"""


def test_plugin_hooks_fire_and_their_fields_and_tags_are_stored(server_factory, tmp_path: Path) -> None:
    plugin_dir = tmp_path / "plugins"
    (plugin_dir / "recorder").mkdir(parents=True)
    (plugin_dir / "recorder" / "__init__.py").write_text(textwrap.dedent(RECORDER))
    brightness = Path(__file__).resolve().parents[2] / "plugins" / "brightness"
    os.symlink(brightness, plugin_dir / "brightness")
    server = server_factory(plugin_dir=str(plugin_dir))
    (server.state_dir / "datasets").mkdir(parents=True)
    data = coco_dict(6)
    ann = make_coco(server.state_dir / "datasets" / "coco", data=data)
    # one black image: the brightness plugin tags it dark
    write_image(server.state_dir / "datasets" / "coco" / "images" / "img_001.jpg", (72, 52), (0, 0, 0))
    with server, server.client() as client:
        job = import_dataset(client, "hooked", ann)
        assert job["state"] == "succeeded", job
        events = [json.loads(line) for line in (server.state_dir / "hooks.jsonl").read_text().splitlines()]
        assert events[0] == {"hook": "started", "dataset": "hooked", "total": 6, "format": "coco"}
        assert [e["file"] for e in events[1:-1]] == [f"img_{i:03d}.jpg" for i in range(6)]
        assert [e["boxes"] for e in events[1:-1]] == [0, 1, 2, 3, 0, 1]
        assert events[-1]["hook"] == "completed" and events[-1]["summary"]["samples"] == 6
        busy = client.get(f"/datasets/{job['dataset_id']}/samples", params={"tag": "busy"}).json()
        assert [s["file_name"] for s in busy["items"]] == ["img_003.jpg"]
        dark = client.get(f"/datasets/{job['dataset_id']}/samples", params={"tag": "dark"}).json()
        assert [s["file_name"] for s in dark["items"]] == ["img_001.jpg", "img_004.jpg"]  # black and (20, 20, 20)
        detail = client.get(f"/samples/{dark['items'][0]['id']}").json()
        assert detail["fields"]["name_length"] == 11 and detail["fields"]["brightness"] < 5

        # Cancelling an import (DELETE /jobs/{id}) while plugins run leaves nothing behind.
        accepted = client.post("/datasets", json={"name": "slow", "path": str(ann)}).json()
        deadline = time.monotonic() + 30
        while client.get(f"/jobs/{accepted['job_id']}").json()["message"] != "running plugins":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert client.delete(f"/jobs/{accepted['job_id']}").status_code == 200
        assert wait_job(client, accepted["job_id"])["state"] == "cancelled"
        assert client.get(f"/datasets/{accepted['dataset_id']}").status_code == 404
        assert [d["name"] for d in client.get("/datasets").json()] == ["hooked"]


# -- lifecycle -------------------------------------------------------------------------------------------
def test_data_survives_restart_and_delete_removes_everything(server_factory, tmp_path: Path) -> None:
    server = server_factory()
    (server.state_dir / "datasets").mkdir(parents=True)
    ann = make_coco(server.state_dir / "datasets" / "coco")
    with server, server.client() as client:
        job = import_dataset(client, "keep", ann)
        other = import_dataset(client, "other", ann)
        dataset_id = job["dataset_id"]
        ids = [s["id"] for s in all_samples(client, dataset_id)]
        client.post(f"/datasets/{dataset_id}/tags", json={"sample_ids": ids[:2], "add": ["kept"]}).raise_for_status()
        client.post(
            f"/datasets/{dataset_id}/views", json={"name": "v", "filters": {"tag": ["kept"]}}
        ).raise_for_status()
        before = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500}).json()
        stats_before = client.get(f"/datasets/{dataset_id}/statistics").json()
    restarted = server_factory(state_dir=server.state_dir)
    with restarted, restarted.client() as client:
        assert client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500}).json() == before
        assert client.get(f"/datasets/{dataset_id}/statistics").json() == stats_before
        assert [v["name"] for v in client.get(f"/datasets/{dataset_id}/views").json()] == ["v"]
        assert client.get(f"/jobs/{job['id']}").json()["state"] == "succeeded"
        assert client.delete(f"/datasets/{dataset_id}").status_code == 204
        assert client.get(f"/datasets/{dataset_id}").status_code == 404
        assert client.get(f"/samples/{ids[0]}").status_code == 404
        assert client.get(f"/datasets/{dataset_id}/views").status_code == 404
        assert client.delete(f"/datasets/{dataset_id}").status_code == 404
        assert counts(client, other["dataset_id"])["samples"] == 6
        # ids are never reused: a new import gets new sample ids
        again = import_dataset(client, "keep", ann)
        assert min(s["id"] for s in all_samples(client, again["dataset_id"])) > max(ids)


def test_job_events_stream_ends_with_the_import_result(server) -> None:
    ann = make_coco(roots(server) / "coco")
    with server.client() as client:
        accepted = client.post("/datasets", json={"name": "sse", "path": str(ann)}).json()
        with client.stream("GET", f"/jobs/{accepted['job_id']}/events") as stream:
            text = "".join(stream.iter_text())
        assert "event: end" in text
        final = json.loads(text.split("event: end\ndata: ", 1)[1].split("\n", 1)[0])
        assert final["state"] == "succeeded" and final["result"]["samples"] == 6
        wait_job(client, accepted["job_id"])
