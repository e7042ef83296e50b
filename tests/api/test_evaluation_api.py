"""Prediction runs over HTTP against a real server: import, evaluation equal to pycocotools, error analysis,
sample filters and sorts, confusion cells, atomic replacement and clear failures."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval

from tests.support.datasets import import_dataset, make_coco
from tests.support.evaluation import N_IMAGES, NAMES, coco_data, cocoeval, matrix_cells, run_job


def per_class_ap(e: COCOeval, k: int, t: int | None = None) -> float:
    p = e.eval["precision"][:, :, k, 0, 2] if t is None else e.eval["precision"][t, :, k, 0, 2]
    return float(np.mean(p[p > -1]))


@pytest.fixture
def loaded(server):
    """A COCO dataset and a coco_results run 'r1' imported through the API."""
    root = server.state_dir / "datasets" / "coco"
    data, results = coco_data()
    make_coco(root, images=False, data=data)
    (root / "results.json").write_text(json.dumps(results))
    with server.client() as client:
        job = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)
        assert job["state"] == "succeeded", job
        ds = job["dataset_id"]
        job = run_job(client, ds, "r1", "coco/results.json", "coco_results")
        assert job["state"] == "succeeded", job
    return server, ds, data, results, root


def test_evaluation_equals_pycocotools(loaded):
    server, ds, data, results, _ = loaded
    e = cocoeval(data, results)
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert reply["map"] == e.stats[0]
        assert reply["map50"] == e.stats[1]
        assert reply["map75"] == e.stats[2]
        by_id = {c["category_id"]: c for c in reply["per_class"]}
        cat_ids = sorted(NAMES)
        assert [c["category"] for c in reply["per_class"]] == [NAMES[c] for c in cat_ids]
        for k, cid in enumerate(cat_ids):
            row = next(c for c in reply["per_class"] if c["category"] == NAMES[cid])
            if cid == 9:
                assert row["ap"] is None and row["ground_truth"] == 0
                continue
            assert row["ap"] == per_class_ap(e, k)
            assert row["ap50"] == per_class_ap(e, k, 0)
            assert row["pr_curve"]["precision"] == e.eval["precision"][0, :, k, 0, 2].tolist()
        assert len(by_id) == len(NAMES)
        # counts at IoU 0.5 agree with evaluateImg's matches
        tp = sum(
            int(np.sum((r["dtMatches"][0] > 0) & ~r["dtIgnore"][0].astype(bool)))
            for r in e.evalImgs
            if r is not None and r["aRng"] == [0, 1e10]
        )
        assert reply["tp"] == tp
        assert reply["tp"] + reply["fn"] == sum(1 for a in data["annotations"] if not a["iscrowd"])
        errors = reply["errors"]
        assert errors["tp"] == reply["tp"] and errors["missed"] == reply["fn"]
        fp_kinds = ("localisation", "class_confusion", "duplicate", "background")
        assert sum(errors[k] for k in fp_kinds) == reply["fp"]
        matrix = np.array(reply["confusion"]["matrix"])
        assert reply["confusion"]["labels"][-1] == "background"
        assert np.trace(matrix[:-1, :-1]) == reply["tp"]
        assert matrix[:, :-1].sum() == reply["tp"] + reply["fp"]  # every counted prediction once

        # a split: pycocotools with imgIds restricted to it
        val_ids = [im["id"] for im in data["images"] if im["split"] == "val"]
        ev_val = cocoeval(data, results, img_ids=val_ids)
        val = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "split": "val"}).json()
        assert val["map"] == ev_val.stats[0] and val["map50"] == ev_val.stats[1]
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "split": "nope"}).status_code == 422

        # a category: pycocotools with catIds=[it]
        ev_dog = cocoeval(data, results, cat_ids=[2])
        dog = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "category": "dog"}).json()
        assert dog["map"] == ev_dog.stats[0] and dog["map50"] == ev_dog.stats[1]
        assert dog["tp"] == by_id[[c for c in by_id if by_id[c]["category"] == "dog"][0]]["tp"]

        # another IoU: same COCO mAP, counts at 0.75 (computed on first request, then stored)
        strict = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "iou": 0.75}).json()
        assert strict["map"] == e.stats[0] and strict["iou"] == 0.75
        assert strict["tp"] < reply["tp"] and strict["ap_at_iou"] == e.stats[2]


def test_samples_filters_sorts_and_box_marks(loaded):
    server, ds, data, results, _ = loaded
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        everything = client.get(f"/datasets/{ds}/samples", params={"limit": 500}).json()
        with_fp = client.get(f"/datasets/{ds}/samples", params={"eval_run": "r1", "has_fp": True, "limit": 500}).json()
        no_fp = client.get(f"/datasets/{ds}/samples", params={"eval_run": "r1", "has_fp": False, "limit": 500}).json()
        with_fn = client.get(f"/datasets/{ds}/samples", params={"eval_run": "r1", "has_fn": True, "limit": 500}).json()
        assert with_fp["total"] + no_fp["total"] == everything["total"] == N_IMAGES
        assert 0 < with_fp["total"] < N_IMAGES and 0 < with_fn["total"] < N_IMAGES
        r = client.get(f"/datasets/{ds}/samples", params={"has_fp": True})
        assert r.status_code == 422 and "eval_run" in r.text

        # every box of a sample with FPs is marked; the FP count matches has_fp
        fp_total, fn_total = 0, 0
        for item in everything["items"]:
            sample = client.get(f"/samples/{item['id']}").json()
            fps = [a for a in sample["annotations"] if a["source"] == "r1" and a["evaluation"]["r1"]["status"] == "FP"]
            fns = [
                a
                for a in sample["annotations"]
                if a["source"] == "ground_truth" and a["evaluation"]["r1"]["status"] == "FN"
            ]
            fp_total += len(fps)
            fn_total += len(fns)
            assert (len(fps) > 0) == (item["id"] in {s["id"] for s in with_fp["items"]})
            ids = {a["id"]: a for a in sample["annotations"]}
            for a in sample["annotations"]:
                mark = a["evaluation"]["r1"]
                if mark["status"] == "TP":  # partners point at each other, same IoU
                    partner = ids[mark["partner_id"]]["evaluation"]["r1"]
                    assert partner["partner_id"] == a["id"] and partner["iou"] == mark["iou"] >= 0.5
        assert fp_total == reply["fp"] and fn_total == reply["fn"]

        worst = client.get(
            f"/datasets/{ds}/samples", params={"eval_run": "r1", "sort_by": "worst", "limit": 500}
        ).json()
        errors = client.get(
            f"/datasets/{ds}/samples", params={"eval_run": "r1", "sort_by": "errors", "limit": 5}
        ).json()
        assert len(worst["items"]) == N_IMAGES and len(errors["items"]) == 5
        first, last = worst["items"][0]["id"], worst["items"][-1]["id"]
        marks = lambda sid: [a["evaluation"].get("r1", {}) for a in client.get(f"/samples/{sid}").json()["annotations"]]  # noqa: E731
        bad = marks(first)
        good = marks(last)
        assert sum(m.get("status") in ("FP", "FN") for m in bad) > sum(m.get("status") in ("FP", "FN") for m in good)
        r = client.get(f"/datasets/{ds}/samples", params={"sort_by": "worst"})
        assert r.status_code == 422


def test_confusion_cells_list_their_samples(loaded):
    server, ds, *_ = loaded
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        labels, matrix = reply["confusion"]["labels"], reply["confusion"]["matrix"]
        checked = 0
        for i, j, actual, predicted in matrix_cells(labels):
            cell = client.get(
                f"/datasets/{ds}/evaluation/confusion",
                params={"run": "r1", "actual": actual, "predicted": predicted, "limit": 1000},
            )
            assert cell.status_code == 200, cell.text
            body = cell.json()
            assert body["boxes"] == matrix[i][j], (actual, predicted)
            assert sum(s["boxes"] for s in body["samples"]) == matrix[i][j]
            checked += matrix[i][j] > 0
        assert checked >= 5
        r = client.get(f"/datasets/{ds}/evaluation/confusion", params={"run": "r1", "actual": "x", "predicted": "dog"})
        assert r.status_code == 422


def test_reimport_replaces_atomically_and_bad_files_change_nothing(loaded):
    server, ds, data, results, root = loaded
    with server.client() as client:
        before = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        bad = [dict(r) for r in results]
        del bad[7]["score"]
        (root / "bad.json").write_text(json.dumps(bad))
        job = run_job(client, ds, "r1", root / "bad.json", "coco_results")
        assert (
            job["state"] == "failed"
            and "bad.json" in job["error"]
            and "entry 8" in job["error"]
            and "score" in job["error"]
        )
        unknown = [dict(r) for r in results]
        unknown[3]["image_id"] = 99999
        (root / "unknown.json").write_text(json.dumps(unknown))
        job = run_job(client, ds, "r1", root / "unknown.json", "coco_results")
        assert job["state"] == "failed" and "unknown.json" in job["error"] and "99999" in job["error"]
        (root / "broken.json").write_text('[{"image_id": 1, ')
        job = run_job(client, ds, "r1", root / "broken.json", "coco_results")
        assert job["state"] == "failed" and "broken.json" in job["error"]
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json() == before

        # replace r1 with the better half of the predictions: old boxes and results are gone at once
        half = [r for r in results if r["score"] >= 0.5]
        (root / "half.json").write_text(json.dumps(half))
        job = run_job(client, ds, "r1", "coco/half.json", "coco_results")
        assert job["state"] == "succeeded", job
        assert job["result"]["replaced"] == len(results) and job["result"]["predictions"] == len(half)
        after = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        assert after["map"] == cocoeval(data, half).stats[0]
        assert after["tp"] + after["fp"] <= len(half)
        runs = client.get(f"/datasets/{ds}/predictions").json()
        assert [(r["run"], r["predictions"]) for r in runs] == [("r1", len(half))]
        n_boxes = sum(
            len([a for a in client.get(f"/samples/{s['id']}").json()["annotations"] if a["source"] == "r1"])
            for s in client.get(f"/datasets/{ds}/samples", params={"limit": 500}).json()["items"]
        )
        assert n_boxes == len(half)

        assert client.delete(f"/datasets/{ds}/predictions/r1").status_code == 204
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).status_code == 404


def test_request_errors(loaded):
    server, ds, _, _, root = loaded
    outside = server.state_dir / "outside.json"
    outside.write_text("[]")
    with server.client() as client:
        post = lambda body, d=ds: client.post(f"/datasets/{d}/predictions", json=body)  # noqa: E731
        assert post({"run": "x", "path": str(outside), "format": "coco_results"}).status_code == 403
        assert post({"run": "x", "path": "coco/results.json", "format": "coco_results"}, 999).status_code == 404
        assert post({"run": "x", "path": "coco/results.json", "format": "voc"}).status_code == 422
        assert post({"run": "ground_truth", "path": "coco/results.json", "format": "coco_results"}).status_code == 422
        assert post({"run": "x", "path": "coco/missing.json", "format": "coco_results"}).status_code == 422
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "nope"}).status_code == 404
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "iou": 2}).status_code == 422


def test_yolo_predictions(server):
    """YOLO txt predictions (class cx cy w h conf, normalised) map to samples by file stem."""
    root = server.state_dir / "datasets" / "coco2"
    data = {
        "images": [{"id": i, "file_name": f"im{i}.jpg", "width": 200, "height": 100} for i in (1, 2)],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 10, 40, 20], "area": 800, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [100, 50, 50, 50], "area": 2500, "iscrowd": 0},
        ],
    }
    make_coco(root, images=False, data=data)
    labels = root / "pred" / "labels"
    labels.mkdir(parents=True)
    (labels / "im1.txt").write_text("0 0.2 0.2 0.2 0.2 0.9\n1 0.8 0.8 0.1 0.1 0.3\n")  # TP cat, background dog
    (labels / "im2.txt").write_text("0 0.625 0.75 0.25 0.5 0.8\n")  # cat on the dog: class confusion
    # a file name that is not UTF-8: left out (it failed the run with an error no GET of the job could send: 500)
    with open(os.fsencode(labels) + b"/\xff.txt", "w") as handle:
        handle.write("0 0.5 0.5 0.1 0.1 0.5\n")
    with server.client() as client:
        ds = import_dataset(client, "y", root / "annotations.json", "coco", annotations_only=True)["dataset_id"]
        job = run_job(client, ds, "yolo1", "coco2/pred", "yolo")
        assert job["state"] == "succeeded", job
        # ... and counted, never only logged
        assert job["result"]["skipped"] == {"file_name_not_utf8": 1}, job["result"]
        assert job["result"]["skipped_examples"] == {"file_name_not_utf8": [f"{labels}/\ufffd.txt"]}
        assert "skipped 1 files whose name is not UTF-8" in job["message"], job["message"]
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "yolo1"}).json()
        assert (reply["tp"], reply["fp"], reply["fn"]) == (1, 2, 1)
        assert reply["errors"]["class_confusion"] == 1 and reply["errors"]["background"] == 1
        assert reply["confusion"]["matrix"] == [[1, 0, 0], [1, 0, 0], [0, 1, 0]]
        sample = client.get("/samples/" + str(client.get(f"/datasets/{ds}/samples").json()["items"][0]["id"])).json()
        cat = next(a for a in sample["annotations"] if a["source"] == "yolo1" and a["category"] == "cat")
        assert cat["bbox"] == pytest.approx([20, 10, 40, 20]) and cat["confidence"] == 0.9
        assert cat["evaluation"]["yolo1"]["status"] == "TP" and cat["evaluation"]["yolo1"]["iou"] == pytest.approx(1.0)

        (labels / "im2.txt").write_text("0 0.625 0.75 0.25 0.5\n")  # no confidence
        job = run_job(client, ds, "yolo1", "coco2/pred", "yolo")
        assert job["state"] == "failed" and "im2.txt line 1" in job["error"] and "save_conf" in job["error"]
        (labels / "im2.txt").write_text("7 0.625 0.75 0.25 0.5 0.5\n")
        job = run_job(client, ds, "yolo1", "coco2/pred", "yolo")
        assert job["state"] == "failed" and "im2.txt" in job["error"] and "class 7" in job["error"]
        (labels / "im3.txt").write_text("0 0.5 0.5 0.1 0.1 0.5\n")
        (labels / "im2.txt").write_text("")
        job = run_job(client, ds, "yolo1", "coco2/pred", "yolo")
        assert job["state"] == "failed" and "im3.txt" in job["error"]
        assert client.get(f"/datasets/{ds}/evaluation", params={"run": "yolo1"}).json()["tp"] == 1  # unchanged
