"""The statistics and evaluation views' aggregates over HTTP on one real server: distributions recomputed
from the COCO file, the confusion-cell / error-category sample filter against the confusion reply and the
per-box marks, the highlighted boxes, and precision/recall per score threshold against the marks."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from tests.support.datasets import import_dataset, make_coco
from tests.support.evaluation import N_IMAGES, coco_data, matrix_cells, run_job
from tests.support.server import Server


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    """One server; a COCO dataset of varied image sizes and a coco_results run 'r1'."""
    state = tmp_path_factory.mktemp("stats-analysis")
    root = state / "datasets" / "coco"
    data, results = coco_data()
    for i, image in enumerate(data["images"]):
        image["width"], image["height"] = 640 + 300 * (i % 4), 640 + 200 * (i % 3)
    make_coco(root, images=False, data=data)
    (root / "results.json").write_text(json.dumps(results))
    server = Server(state)
    with server, server.client() as client:
        job = import_dataset(client, "ds", root / "annotations.json", "coco", annotations_only=True)
        assert job["state"] == "succeeded", job
        ds = job["dataset_id"]
        assert run_job(client, ds, "r1", "coco/results.json", "coco_results")["state"] == "succeeded"
        marks = {}  # sample id -> its annotations with their r1 marks
        for item in client.get(f"/datasets/{ds}/samples", params={"limit": 500}).json()["items"]:
            marks[item["id"]] = client.get(f"/samples/{item['id']}").json()
        yield server, ds, data, results, marks


def _bin_of(value: float, bins: list[dict]) -> int:
    return next(i for i, b in enumerate(bins) if b["max"] is None or value < b["max"])


def test_distributions_follow_the_filters(loaded) -> None:
    server, ds, data, _, _ = loaded
    names = {c["id"]: c["name"] for c in data["categories"]}
    with server.client() as client:
        for params in ({}, {"split": "val"}, {"category": "dog"}, {"category": "dog", "split": "train"}):
            r = client.get(f"/datasets/{ds}/statistics/distributions", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            images = [
                im
                for im in data["images"]
                if ("split" not in params or im["split"] == params["split"])
                and (
                    "category" not in params
                    or any(
                        a["image_id"] == im["id"] and names[a["category_id"]] == params["category"]
                        for a in data["annotations"]
                    )
                )
            ]
            ids = {im["id"] for im in images}
            boxes = [a for a in data["annotations"] if a["image_id"] in ids]
            per_image = Counter(a["image_id"] for a in boxes)
            expected = Counter(min(per_image.get(i, 0), 30) for i in ids)
            assert {b["boxes"]: b["images"] for b in body["boxes_per_image"] if b["images"]} == dict(expected)
            widths = Counter(_bin_of(im["width"], body["image_width"]["bins"]) for im in images)
            assert [b["count"] for b in body["image_width"]["bins"]] == [
                widths.get(i, 0) for i in range(len(body["image_width"]["bins"]))
            ]
            sizes = Counter((im["width"], im["height"]) for im in images)
            assert {(s["width"], s["height"]): s["images"] for s in body["image_sizes"]} == dict(sizes)
            bins = body["aspect_ratio"]["bins"]
            aspects = Counter(_bin_of(a["bbox"][2] / a["bbox"][3], bins) for a in boxes if a["bbox"][3] > 0)
            assert [b["count"] for b in bins] == [aspects.get(i, 0) for i in range(len(bins))]
            assert sum(aspects.values()) == len(boxes) > 0
        # unfiltered, the aspect ratios come from the import summary: the same as the boxes' scan
        stored = client.get(f"/datasets/{ds}/statistics/distributions").json()
        live = client.get(f"/datasets/{ds}/statistics/distributions", params={"min_annotations": 0}).json()
        assert stored == live
        assert client.get(f"/datasets/{ds}/statistics/distributions", params={"min_annotations": -1}).status_code == 422
        assert client.get("/datasets/999999/statistics/distributions").status_code == 404


def test_confusion_cell_filter_and_highlights_equal_the_cell(loaded) -> None:
    server, ds, *_ = loaded
    with server.client() as client:
        for iou in (0.5, 0.75):
            reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1", "iou": iou}).json()
            labels, matrix = reply["confusion"]["labels"], reply["confusion"]["matrix"]
            checked = 0
            for i, j, actual, predicted in matrix_cells(labels):
                cell = client.get(
                    f"/datasets/{ds}/evaluation/confusion",
                    params={"run": "r1", "iou": iou, "actual": actual, "predicted": predicted, "limit": 1000},
                ).json()
                page = client.get(
                    f"/datasets/{ds}/samples",
                    params={
                        "eval_run": "r1",
                        "eval_iou": iou,
                        "eval_actual": actual,
                        "eval_predicted": predicted,
                        "limit": 500,
                    },
                )
                assert page.status_code == 200, page.text
                got = [s["id"] for s in page.json()["items"]]
                assert sorted(got) == sorted(s["sample_id"] for s in cell["samples"]), (actual, predicted)
                assert page.json()["total"] == cell["total"]
                lit = client.get(
                    f"/datasets/{ds}/evaluation/boxes",
                    params={"run": "r1", "iou": iou, "actual": actual, "predicted": predicted, "sample_id": got}
                    if got
                    else {"run": "r1", "iou": iou, "actual": actual, "predicted": predicted, "sample_id": [1]},
                )
                assert lit.status_code == 200, lit.text
                lit_boxes = {s["sample_id"]: s["annotation_ids"] for s in lit.json()["items"]}
                assert lit_boxes == {s["sample_id"]: s["annotation_ids"] for s in cell["samples"]}
                assert sum(len(v) for v in lit_boxes.values()) == matrix[i][j]
                checked += matrix[i][j] > 0
            assert checked >= 5


def test_error_category_filter_matches_the_box_marks(loaded) -> None:
    server, ds, _, _, marks = loaded
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        for error, count in reply["errors"].items():
            expected = {
                sid: sorted(a["id"] for a in s["annotations"] if a["evaluation"].get("r1", {}).get("error") == error)
                for sid, s in marks.items()
            }
            expected = {sid: ids for sid, ids in expected.items() if ids}
            assert sum(len(v) for v in expected.values()) == count, error
            page = client.get(
                f"/datasets/{ds}/samples", params={"eval_run": "r1", "eval_error": error, "limit": 500}
            ).json()
            assert sorted(s["id"] for s in page["items"]) == sorted(expected), error
            lit = client.get(
                f"/datasets/{ds}/evaluation/boxes",
                params={"run": "r1", "error": error, "sample_id": sorted(marks)},
            ).json()
            assert {s["sample_id"]: s["annotation_ids"] for s in lit["items"]} == expected


def test_precision_recall_per_score_threshold(loaded) -> None:
    server, ds, _, _, marks = loaded
    preds = [a for s in marks.values() for a in s["annotations"] if a["source"] == "r1"]
    gts = [a for s in marks.values() for a in s["annotations"] if a["source"] == "ground_truth"]
    n_gt = sum(a["evaluation"]["r1"]["status"] in ("TP", "FN") for a in gts)
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "r1"}).json()
        r = client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": "r1"})
        assert r.status_code == 200, r.text
        body = r.json()
    assert len(body["score"]) == 101 and body["score"][0] == 0 and body["score"][-1] == 1
    assert body["ground_truth"] == n_gt
    assert body["tp"][0] == reply["tp"] and body["fp"][0] == reply["fp"]
    assert body["recall"][0] == pytest.approx(reply["recall"])
    for k, t in enumerate(body["score"]):
        kept = [a for a in preds if math.floor(a["confidence"] * 100) >= round(t * 100)]
        tp = sum(a["evaluation"]["r1"]["status"] == "TP" for a in kept)
        fp = sum(a["evaluation"]["r1"]["status"] == "FP" for a in kept)
        assert (body["tp"][k], body["fp"][k]) == (tp, fp), t
        assert body["precision"][k] == (pytest.approx(tp / (tp + fp)) if tp + fp else None)
        assert body["recall"][k] == pytest.approx(tp / n_gt)
    assert body["tp"] == sorted(body["tp"], reverse=True)


def test_bad_requests_are_422_naming_the_field(loaded) -> None:
    server, ds, *_ = loaded
    with server.client() as client:
        samples = f"/datasets/{ds}/samples"
        for params, word in (
            ({"eval_actual": "dog", "eval_predicted": "cat"}, "eval_run"),
            ({"eval_run": "r1", "eval_actual": "dog"}, "eval_predicted"),
            ({"eval_run": "r1", "eval_actual": "background", "eval_predicted": "background"}, "background"),
            ({"eval_run": "r1", "eval_error": "nonsense"}, "eval_error"),
        ):
            r = client.get(samples, params=params)
            assert r.status_code == 422 and word in r.text, (params, r.text)
        boxes = f"/datasets/{ds}/evaluation/boxes"
        for params in (
            {"run": "r1", "sample_id": [1]},
            {"run": "r1", "actual": "dog", "sample_id": [1]},
            {"run": "r1", "actual": "nope", "predicted": "dog", "sample_id": [1]},
            {"run": "r1", "error": "missed", "sample_id": list(range(1, 600))},
            {"run": "r1", "error": "missed"},
        ):
            assert client.get(boxes, params=params).status_code == 422, params
        assert client.get(boxes, params={"run": "nope", "error": "missed", "sample_id": [1]}).status_code == 404
        assert client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": "nope"}).status_code == 404
        r = client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": "r1", "category": "background"})
        assert r.status_code == 422
        assert N_IMAGES == len(client.get(samples, params={"limit": 500}).json()["items"])
