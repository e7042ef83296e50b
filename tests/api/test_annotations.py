"""Editing labels through the API of a real server: validation, versions (409/428), history, undo/redo, users."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.datasets import coco_dict, import_dataset, make_coco
from tests.support.evaluation import coco_data, cocoeval, run_job
from tests.support.server import Server


@pytest.fixture
def edited(server):
    """A COCO dataset (6 images of known sizes, categories cat/dog/bird) imported through the API."""
    root = server.state_dir / "datasets" / "coco"
    make_coco(root, images=False)
    with server.client() as client:
        job = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)
        assert job["state"] == "succeeded", job
    return server, job["dataset_id"]


def samples(client: httpx.Client, ds: int, **params: object) -> dict:
    r = client.get(f"/datasets/{ds}/samples", params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()


def sample(client: httpx.Client, sid: int) -> dict:
    r = client.get(f"/samples/{sid}")
    assert r.status_code == 200, r.text
    return r.json()


def gt_boxes(client: httpx.Client, sid: int) -> list[dict]:
    return [a for a in sample(client, sid)["annotations"] if a["source"] == "ground_truth"]


def test_create_update_delete_with_versions_and_validation(edited):
    server, ds = edited
    with server.client() as client:
        first = samples(client, ds)["items"][0]  # img_000: 64 x 48, no boxes
        sid, (w, h) = first["id"], (first["width"], first["height"])
        assert (w, h) == (64, 48) and first["annotation_count"] == 0
        dogs = samples(client, ds, category="dog")["total"]

        r = client.post(f"/samples/{sid}/annotations", json={"bbox": [4, 5, 20, 10], "category": "dog"})
        assert r.status_code == 201, r.text
        created = r.json()["annotation"]
        assert created["version"] == 1 and created["bbox"] == [4, 5, 20, 10] and created["category"] == "dog"
        assert created["area"] == 200 and created["source"] == "ground_truth"
        aid = created["id"]
        # derived columns follow: the count, and the category filter (samples.gt_category_ids)
        assert samples(client, ds)["items"][0]["annotation_count"] == 1
        assert samples(client, ds, category="dog")["total"] == dogs + 1
        assert [a["version"] for a in gt_boxes(client, sid)] == [1]

        # a box that reaches the right and bottom edge exactly is inside
        r = client.patch(f"/annotations/{aid}", json={"version": 1, "bbox": [44, 38, 20, 10]})
        assert r.status_code == 200, r.text
        assert r.json()["annotation"]["version"] == 2 and r.json()["annotation"]["bbox"] == [44, 38, 20, 10]

        # stale version: 409 naming the current one, nothing overwritten
        r = client.patch(f"/annotations/{aid}", json={"version": 1, "bbox": [0, 0, 5, 5]})
        assert r.status_code == 409, r.text
        assert r.json()["current_version"] == 2 and "current version is 2" in r.json()["detail"]
        # missing version: 428
        r = client.patch(f"/annotations/{aid}", json={"bbox": [0, 0, 5, 5]})
        assert r.status_code == 428, r.text
        assert r.json()["current_version"] == 2
        assert client.delete(f"/annotations/{aid}").status_code == 428
        assert client.delete(f"/annotations/{aid}", params={"version": 1}).status_code == 409
        assert gt_boxes(client, sid)[0]["bbox"] == [44, 38, 20, 10]

        bad = {
            "past the right edge": ({"bbox": [50, 0, 15, 10], "category": "cat"}, "past the image width 64"),
            "past the bottom": ({"bbox": [0, 40, 10, 9], "category": "cat"}, "past the image height 48"),
            "negative x": ({"bbox": [-1, 0, 10, 10], "category": "cat"}, "outside the image"),
            "zero width": ({"bbox": [1, 1, 0, 10], "category": "cat"}, "positive width"),
            "negative height": ({"bbox": [1, 1, 5, -2], "category": "cat"}, "positive width"),
            "unknown class": ({"bbox": [1, 1, 5, 5], "category": "zebra"}, "no category 'zebra'"),
            "unknown class id": ({"bbox": [1, 1, 5, 5], "category_id": 999999}, "no category id 999999"),
            "no class": ({"bbox": [1, 1, 5, 5]}, "category"),
        }
        for name, (body, words) in bad.items():
            r = client.post(f"/samples/{sid}/annotations", json=body)
            assert r.status_code == 422, (name, r.text)
            assert words in r.json()["detail"], (name, r.json())
            assert f"sample {sid}" in r.json()["detail"] or "categor" in r.json()["detail"], (name, r.json())
        for body in ({"bbox": [1, 2, 3]}, {"bbox": [1, 2, 3, 4], "category": "cat", "colour": "red"}):
            assert client.post(f"/samples/{sid}/annotations", json=body).status_code == 422
        r = client.patch(f"/annotations/{aid}", json={"version": 2, "bbox": [60, 0, 10, 10]})
        assert r.status_code == 422 and "past the image width" in r.json()["detail"]
        assert (
            client.post("/samples/999999/annotations", json={"bbox": [0, 0, 1, 1], "category": "cat"}).status_code
            == 404
        )
        assert client.patch("/annotations/999999", json={"version": 1, "bbox": [0, 0, 1, 1]}).status_code == 404
        # numbers beyond the id and version columns are refused as input, never a database error
        assert client.patch(f"/annotations/{10**20}", json={"version": 1, "bbox": [0, 0, 1, 1]}).status_code == 422
        assert client.patch(f"/annotations/{aid}", json={"version": 2**40, "bbox": [0, 0, 1, 1]}).status_code == 422
        r = client.post(f"/samples/{sid}/annotations", json={"bbox": [1, 1, 2, 2], "category_id": 10**20})
        assert r.status_code == 422
        assert len(gt_boxes(client, sid)) == 1  # none of that stored anything

        # a new class is added explicitly, then usable; a name taken is a 409
        r = client.post(f"/datasets/{ds}/categories", json={"name": "zebra"})
        assert r.status_code == 201, r.text
        assert r.json()["category"]["source_id"] == 6  # after the COCO ids 1, 2, 5
        assert client.post(f"/datasets/{ds}/categories", json={"name": "zebra"}).status_code == 409
        r = client.patch(f"/annotations/{aid}", json={"version": 2, "category": "zebra"})
        assert r.status_code == 200 and r.json()["annotation"]["category"] == "zebra"
        assert samples(client, ds, category="dog")["total"] == dogs
        assert samples(client, ds, category="zebra")["total"] == 1
        facets = client.get(f"/datasets/{ds}/facets").json()
        assert {c["value"]: c["annotations"] for c in facets["categories"]}["zebra"] == 1

        r = client.delete(f"/annotations/{aid}", params={"version": 3})
        assert r.status_code == 200, r.text
        assert r.json()["annotation"] is None
        assert gt_boxes(client, sid) == [] and samples(client, ds)["items"][0]["annotation_count"] == 0
        assert client.delete(f"/annotations/{aid}", params={"version": 3}).status_code == 404
        stats = client.get(f"/datasets/{ds}/statistics").json()
        assert stats["totals"]["annotations"] == sum(
            len(gt_boxes(client, s["id"])) for s in samples(client, ds)["items"]
        )
        assert {c["category"]: c["annotations"] for c in stats["class_distribution"]}["zebra"] == 0


def test_history_undo_redo(edited):
    server, ds = edited
    with server.client() as client:
        items = samples(client, ds)["items"]
        sid = items[2]["id"]  # two boxes
        before = gt_boxes(client, sid)
        a, b = before[0], before[1]
        r = client.patch(f"/annotations/{a['id']}", json={"version": a["version"], "bbox": [1, 1, 30, 20]})
        assert r.status_code == 200, r.text
        r = client.delete(f"/annotations/{b['id']}", params={"version": b["version"]})
        assert r.status_code == 200, r.text
        r = client.post(f"/samples/{sid}/annotations", json={"bbox": [2, 2, 5, 5], "category": "bird"})
        new_id = r.json()["annotation"]["id"]
        assert client.put(f"/samples/{sid}/review", json={"status": "needs_fix"}).status_code == 200

        page = client.get(f"/samples/{sid}/history").json()
        assert page["total"] == 4
        assert [e["action"] for e in page["items"]] == ["review", "create", "delete", "update"]
        assert all(e["user"] == "local" and e["state"] == "done" for e in page["items"])
        update = page["items"][3]
        assert update["before"]["bbox"] == a["bbox"] and update["after"]["bbox"] == [1, 1, 30, 20]
        assert page["items"][2]["after"] is None and page["items"][1]["before"] is None
        paged = client.get(f"/datasets/{ds}/history", params={"limit": 2, "offset": 1}).json()
        assert paged["total"] == 4 and [e["action"] for e in paged["items"]] == ["create", "delete"]

        # undo walks back: review, create, delete, update -> the sample is as imported
        for expected in ("review", "create", "delete", "update"):
            r = client.post(f"/datasets/{ds}/undo")
            assert r.status_code == 200, r.text
            assert r.json()["applied"]["action"] == expected
        assert client.post(f"/datasets/{ds}/undo").status_code == 409  # nothing left
        now = gt_boxes(client, sid)
        assert [(x["id"], x["bbox"], x["category"]) for x in now] == [
            (x["id"], x["bbox"], x["category"]) for x in before
        ]
        assert all(x["version"] > y["version"] for x, y in zip(now, before, strict=True))  # stale copies stay stale
        assert sample(client, sid)["review_status"] == "unreviewed"
        assert samples(client, ds)["items"][2]["annotation_count"] == 2

        # redo re-applies in order; a new edit then empties the redo stack
        r = client.post(f"/datasets/{ds}/redo")
        assert r.json()["applied"]["action"] == "update" and r.json()["can_redo"] == 3
        assert gt_boxes(client, sid)[0]["bbox"] == [1, 1, 30, 20]
        r = client.post(f"/datasets/{ds}/redo")
        assert r.json()["applied"]["action"] == "delete"
        assert [x["id"] for x in gt_boxes(client, sid)] == [a["id"]]
        cur = gt_boxes(client, sid)[0]
        client.patch(f"/annotations/{a['id']}", json={"version": cur["version"], "category": "cat"})
        assert client.post(f"/datasets/{ds}/redo").status_code == 409
        assert new_id not in [x["id"] for x in gt_boxes(client, sid)]
        actions = [e["action"] for e in client.get(f"/datasets/{ds}/history", params={"limit": 100}).json()["items"]]
        assert actions[:4] == ["update", "redo", "redo", "undo"]
        assert client.get("/samples/999999/history").status_code == 404
        assert client.get("/datasets/999999/history").status_code == 404
        assert client.post("/datasets/999999/undo").status_code == 404


def test_user_comes_from_the_proxy_header_only_behind_the_proxy_on_loopback(server_factory, tmp_path):
    """behind_proxy + a connection to 127.0.0.1 (Caddy): the header names the user. Without behind_proxy, or on
    another address, the same header is ignored and the edit is recorded as 'local'."""
    results = {}
    for name, settings, host in (
        ("proxied", {"behind_proxy": "true"}, "127.0.0.1"),
        ("direct", {"behind_proxy": "false"}, "127.0.0.1"),
        ("other address", {"behind_proxy": "true", "host": "127.0.0.2"}, "127.0.0.2"),
    ):
        srv: Server = server_factory(tmp_path / name.replace(" ", "_"), **settings)
        root = srv.state_dir / "datasets" / "coco"
        make_coco(root, images=False, data=coco_dict(2))
        srv.url = f"http://{host}:{srv.port}"
        with srv.start().client() as client:
            ds = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)["dataset_id"]
            sid = samples(client, ds)["items"][0]["id"]
            r = client.put(f"/samples/{sid}/review", json={"status": "reviewed"}, headers={"X-DataVisor-User": "alice"})
            assert r.status_code == 200, r.text
            results[name] = client.get(f"/samples/{sid}/history").json()["items"][0]["user"]
        srv.stop()
    assert results == {"proxied": "alice", "direct": "local", "other address": "local"}


def test_triage_review_status_and_promotion_follow_into_evaluation(server):
    """Verdicts per box kind, review status filter and facet, and a promoted prediction that changes the
    evaluation: the edit says the run is stale, the next read recomputes it (equal to pycocotools on the
    edited ground truth), undo brings the old numbers back."""
    root = server.state_dir / "datasets" / "coco"
    data, results = coco_data()
    make_coco(root, images=False, data=data)
    (root / "results.json").write_text(json.dumps(results))
    with server.client() as client:
        ds = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)["dataset_id"]
        assert run_job(client, ds, "r1", "coco/results.json", "coco_results")["state"] == "succeeded"
        first = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert first["recomputed"] is False and first["map"] == cocoeval(data, results).stats[0]

        # a confident prediction on an image, its sample and a ground-truth box of the same sample
        by_source = {}
        for s in samples(client, ds)["items"]:
            anns = sample(client, s["id"])["annotations"]
            preds = [a for a in anns if a["source"] == "r1"]
            gts = [a for a in anns if a["source"] == "ground_truth"]
            if preds and gts:
                by_source = {"sample": s, "pred": max(preds, key=lambda a: a["confidence"]), "gt": gts[0]}
                break
        sid, pred, gt = by_source["sample"]["id"], by_source["pred"], by_source["gt"]

        r = client.put(f"/annotations/{pred['id']}/verdict", json={"verdict": "wrong_label"})
        assert r.status_code == 422 and "prediction" in r.json()["detail"]
        r = client.put(f"/annotations/{gt['id']}/verdict", json={"verdict": "bad_box"})
        assert r.status_code == 422 and "ground-truth box" in r.json()["detail"]
        assert client.put(f"/annotations/{pred['id']}/verdict", json={"verdict": "nonsense"}).status_code == 422
        r = client.put(f"/annotations/{pred['id']}/verdict", json={"verdict": "duplicate"})
        assert r.status_code == 200, r.text
        assert r.json()["annotation"]["verdict"] == "duplicate" and r.json()["evaluation"]["state"] == "unchanged"
        r = client.put(f"/annotations/{gt['id']}/verdict", json={"verdict": "missing_object", "version": 99})
        assert r.status_code == 409 and r.json()["current_version"] == gt["version"]
        assert client.put(f"/annotations/{gt['id']}/verdict", json={"verdict": "ignore"}).status_code == 200
        marks = {a["id"]: a["verdict"] for a in sample(client, sid)["annotations"]}
        assert marks[pred["id"]] == "duplicate" and marks[gt["id"]] == "ignore"
        # predictions are triaged, never edited
        assert client.patch(f"/annotations/{pred['id']}", json={"version": 2, "bbox": [0, 0, 5, 5]}).status_code == 422

        total = samples(client, ds)["total"]
        assert client.put(f"/samples/{sid}/review", json={"status": "needs_fix"}).status_code == 200
        assert client.put(f"/samples/{sid}/review", json={"status": "done"}).status_code == 422
        assert [s["id"] for s in samples(client, ds, review_status="needs_fix")["items"]] == [sid]
        assert samples(client, ds, review_status="unreviewed")["total"] == total - 1
        assert client.get(f"/datasets/{ds}/samples", params={"review_status": "bogus"}).status_code == 422
        facet = {f["value"]: f["count"] for f in client.get(f"/datasets/{ds}/facets").json()["review_status"]}
        assert facet == {"unreviewed": total - 1, "reviewed": 0, "needs_fix": 1}
        assert sample(client, sid)["review_status"] == "needs_fix"

        # promote: the prediction becomes a ground-truth box; the evaluation is stale until the next read
        r = client.post(f"/annotations/{pred['id']}/promote")
        assert r.status_code == 201, r.text
        promoted = r.json()["annotation"]
        assert promoted["source"] == "ground_truth" and promoted["category_id"] == pred["category_id"]
        assert r.json()["evaluation"] == {"state": "stale", "runs": [{"run": "r1", "iou": 0.5}]}
        assert client.post(f"/annotations/{promoted['id']}/promote").status_code == 422
        image_id = next(i["id"] for i in data["images"] if i["file_name"] == by_source["sample"]["file_name"])
        edited = json.loads(json.dumps(data))
        edited["annotations"].append(
            {
                "id": 10**6,
                "image_id": image_id,
                "category_id": next(c["id"] for c in data["categories"] if c["name"] == pred["category"]),
                "bbox": promoted["bbox"],
                "area": promoted["area"],
                "iscrowd": 0,
            }
        )
        expected = cocoeval(edited, results)
        after = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert after["recomputed"] is True
        assert after["map"] == expected.stats[0] and after["map"] != first["map"]
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()["recomputed"] is False
        assert "incremental over 1 edited samples" in server.log()
        marks = sample(client, sid)["annotations"]
        assert next(a for a in marks if a["id"] == pred["id"])["evaluation"]["r1"]["partner_id"] == promoted["id"]

        # undo the promotion: the original numbers again (the review and verdicts stay)
        r = client.post(f"/datasets/{ds}/undo")
        assert r.json()["applied"]["action"] == "promote" and r.json()["evaluation"]["state"] == "stale"
        again = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert again["recomputed"] is True and again["map"] == first["map"]
        # another IoU computed after the edits is correct too (a full evaluation of the current boxes)
        assert client.post(f"/datasets/{ds}/redo").json()["applied"]["action"] == "promote"
        at75 = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "iou": 0.75}).json()
        assert at75["map"] == expected.stats[0] and at75["recomputed"] is False


def test_edit_export_reimport_gives_the_edited_boxes(edited):
    """Edits are in the export (it reads the annotations as they are now): move, relabel into a new class,
    delete and create boxes, export COCO, import that file as a new dataset: the same boxes per image."""
    server, ds = edited
    with server.client() as client:
        items = samples(client, ds)["items"]
        boxes = gt_boxes(client, items[3]["id"])  # three boxes
        assert client.post(f"/datasets/{ds}/categories", json={"name": "zebra"}).status_code == 201
        moved = {"version": boxes[0]["version"], "bbox": [2.5, 3.25, 11, 7], "category": "zebra"}
        assert client.patch(f"/annotations/{boxes[0]['id']}", json=moved).status_code == 200
        deleted = client.delete(f"/annotations/{boxes[1]['id']}", params={"version": boxes[1]["version"]})
        assert deleted.status_code == 200
        created = client.post(
            f"/samples/{items[0]['id']}/annotations", json={"bbox": [0, 0, 64, 48], "category": "cat"}
        )
        assert created.status_code == 201

        def by_image(dataset: int) -> dict[str, list]:
            out = {}
            for s in samples(client, dataset)["items"]:
                out[s["file_name"]] = sorted((a["category"], a["bbox"]) for a in gt_boxes(client, s["id"]))
            return out

        expected = by_image(ds)
        r = client.get(f"/datasets/{ds}/export", params={"format": "coco"})
        assert r.status_code == 200, r.text
        exported = server.state_dir / "datasets" / "coco" / "exported.json"
        exported.write_text(r.text)
        job = import_dataset(client, "again", exported, "coco", annotations_only=True)
        assert job["state"] == "succeeded", job
        assert by_image(job["dataset_id"]) == expected
        assert ("zebra", [2.5, 3.25, 11.0, 7.0]) in expected["img_003.jpg"]
        assert ("cat", [0.0, 0.0, 64.0, 48.0]) in expected["img_000.jpg"]


def test_after_a_restart_an_edit_is_evaluated_incrementally_from_the_state_on_disk(server_factory, tmp_path):
    """The engine state behind the stored results survives a restart (written next to the database), so the
    first read after an edit re-matches the edited image only, and its numbers are pycocotools' on the edited
    ground truth."""
    state = tmp_path / "state"
    root = state / "datasets" / "coco"
    data, results = coco_data()
    make_coco(root, images=False, data=data)
    (root / "results.json").write_text(json.dumps(results))
    server = server_factory(state)
    with server, server.client() as client:
        ds = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)["dataset_id"]
        assert run_job(client, ds, "r1", "coco/results.json", "coco_results")["state"] == "succeeded"
    assert list((state / "eval-engines").glob(f"{ds}-*.pickle")), "the state after the import is on disk"

    server = server_factory(state)
    with server, server.client() as client:
        item = next(s for s in samples(client, ds)["items"] if gt_boxes(client, s["id"]))
        box = gt_boxes(client, item["id"])[0]
        x, y, w, h = box["bbox"]
        moved = [x + 1, y + 1, max(1.0, w - 2), max(1.0, h - 2)]
        r = client.patch(f"/annotations/{box['id']}", json={"version": box["version"], "bbox": moved})
        assert r.status_code == 200, r.text
        edited = json.loads(json.dumps(data))
        source = next(
            a
            for a in edited["annotations"]
            if a["bbox"] == box["bbox"]
            and a["image_id"] == next(i["id"] for i in data["images"] if i["file_name"] == item["file_name"])
        )
        source["bbox"], source["area"] = moved, moved[2] * moved[3]
        after = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert after["recomputed"] is True and after["map"] == cocoeval(edited, results).stats[0]
        assert "incremental over 1 edited samples (state from disk)" in server.log()
        # a second edit after that one is incremental from memory, still equal to pycocotools
        r = client.patch(f"/annotations/{box['id']}", json={"version": box["version"] + 1, "bbox": box["bbox"]})
        assert r.status_code == 200, r.text
        again = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert again["recomputed"] is True and again["map"] == cocoeval(data, results).stats[0]
        assert server.log().count("incremental over 1 edited samples") == 2
