"""The evaluation engine against pycocotools on the same data: AP per class and mAP must be identical."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from app.services import evaluation as ev
from tests.support.evaluation import synthetic


def pycoco(gts, dts, n_images, n_cats, extra_cats=()):
    images = [{"id": i, "width": 640, "height": 640} for i in range(1, n_images + 1)]
    cats = [{"id": c, "name": f"c{c}"} for c in [*range(1, n_cats + 1), *extra_cats]]
    anns = [
        {"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": int(cr)}
        for k, (i, c, b, cr) in enumerate(gts)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "categories": cats, "annotations": anns}
        coco.createIndex()
        res = coco.loadRes([{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in dts])
        e = COCOeval(coco, res, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def engine(gts, dts, n_cats, extra_cats=(), *, n_images):
    gt = ev.GroundTruth(
        image=[g[0] for g in gts],
        category=[g[1] for g in gts],
        boxes=np.array([g[2] for g in gts]).reshape(-1, 4),
        iscrowd=[g[3] for g in gts],
    )
    dt = ev.Predictions(
        image=[d[0] for d in dts],
        category=[d[1] for d in dts],
        boxes=np.array([d[2] for d in dts]).reshape(-1, 4),
        score=[d[3] for d in dts],
    )
    cats = [*range(1, n_cats + 1), *extra_cats]
    images = list(range(1, n_images + 1))
    m = ev.match(gt, dt, ev.IOU_THRESHOLDS, categories=cats, images=images)
    return m, ev.accumulate(m, gt, dt), gt, dt


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("quantise", [True, False])
def test_precision_recall_and_map_equal_pycocotools(seed, quantise):
    n_images, n_cats = 60, 5
    gts, dts = synthetic(seed, n_images, n_cats, quantise=quantise)
    e = pycoco(gts, dts, n_images, n_cats, extra_cats=(99,))
    m, acc, _, _ = engine(gts, dts, n_cats, extra_cats=(99,), n_images=n_images)
    ref = e.eval["precision"][:, :, :, 0, 2]
    assert acc.precision.shape == ref.shape
    np.testing.assert_array_equal(acc.precision, ref)
    np.testing.assert_array_equal(acc.recall, e.eval["recall"][:, :, 0, 2])
    assert ev.mean_valid(acc.precision) == e.stats[0]  # mAP@[.5:.95], bit for bit
    assert ev.mean_valid(acc.precision[0]) == e.stats[1]  # mAP@.5
    assert ev.mean_valid(acc.precision[5]) == e.stats[2]  # mAP@.75
    for k in range(n_cats):
        assert ev.mean_valid(acc.precision[:, :, k]) == ev.mean_valid(ref[:, :, k])
    assert ev.mean_valid(acc.precision[:, :, n_cats]) == -1  # category without ground truth


def test_matches_equal_pycocotools_eval_imgs():
    """The per-detection decisions (matched gt id, ignore flag) equal evaluateImg's at every threshold."""
    n_images, n_cats = 40, 4
    gts, dts = synthetic(7, n_images, n_cats, crowd_rate=0.2)
    e = pycoco(gts, dts, n_images, n_cats)
    m, _, gt, dt = engine(gts, dts, n_cats, n_images=n_images)
    res_ids = {}  # pycocotools numbers results 1..n in input order
    checked = 0
    for rec in e.evalImgs:
        if rec is None or rec["aRng"] != [0, 1e10]:
            continue
        for j, did in enumerate(rec["dtIds"]):
            d = did - 1
            res_ids[d] = True
            got = np.where(m.dt_match[d] >= 0, m.dt_match[d] + 1, 0)  # gt ids are index + 1
            np.testing.assert_array_equal(got, rec["dtMatches"][:, j])
            np.testing.assert_array_equal(m.dt_ignore[d], rec["dtIgnore"][:, j].astype(bool))
            checked += 1
    assert checked == int(m.dt_kept.sum()) > 100


def test_more_than_max_dets_per_group():
    gts = [(1, 1, [10.0, 10.0, 50.0, 50.0], False), (1, 1, [200.0, 200.0, 40.0, 40.0], False)]
    rng = np.random.default_rng(5)
    dts = [(1, 1, [10 + rng.normal(0, 3), 10 + rng.normal(0, 3), 50.0, 50.0], float(rng.random())) for _ in range(150)]
    dts += [(1, 1, [200.0, 200.0, 40.0, 40.0], 0.001)]  # beyond the 100 best: never counted
    e = pycoco(gts, dts, 1, 1)
    m, acc, _, _ = engine(gts, dts, 1, n_images=1)
    np.testing.assert_array_equal(acc.precision, e.eval["precision"][:, :, :, 0, 2])
    assert m.dt_kept.sum() == 100


def test_crowd_iou_uses_detection_area_and_crowd_absorbs_many():
    gt = ev.GroundTruth(image=[1, 1], category=[1, 1], boxes=[[0, 0, 100, 100], [300, 300, 10, 10]], iscrowd=[1, 0])
    dt = ev.Predictions(
        image=[1, 1, 1],
        category=[1, 1, 1],
        boxes=[[10, 10, 20, 20], [50, 50, 20, 20], [300, 300, 10, 10]],
        score=[0.9, 0.8, 0.1],
    )
    iou = ev.box_iou(dt.boxes[:2], gt.boxes[[0, 0]], np.array([True, True]))
    assert iou.tolist() == [1.0, 1.0]  # inside the crowd region: intersection / detection area
    m = ev.match(gt, dt, [0.5], images=[1])
    assert m.dt_ignore[:2, 0].all() and (m.dt_match[:2, 0] == 0).all()  # both absorbed, ignored
    acc = ev.accumulate(m, gt, dt)
    assert acc.tp[0, 0] == 1 and acc.fp[0, 0] == 0 and acc.fn[0, 0] == 0
    assert acc.precision[0, :, 0] == pytest.approx(np.ones(101))  # tp / (tp + fp + eps)


def test_error_categories_and_confusion_matrix():
    # image 1: a cat box and a dog box. Predictions: a good cat (TP), a second cat on the same box
    # (duplicate), a dog on the cat box (class confusion, though the cat was found), a loose dog
    # (localisation), a bird in empty space (background). Image 2: a missed dog.
    gt = ev.GroundTruth(
        image=[1, 1, 2], category=[1, 2, 2], boxes=[[0, 0, 100, 100], [200, 200, 100, 100], [0, 0, 50, 50]]
    )
    dt = ev.Predictions(
        image=[1, 1, 1, 1, 1],
        category=[1, 1, 2, 2, 3],
        boxes=[[0, 0, 100, 100], [2, 2, 100, 100], [1, 1, 99, 99], [250, 250, 100, 100], [400, 400, 20, 20]],
        score=[0.9, 0.8, 0.7, 0.6, 0.5],
    )
    m = ev.match(gt, dt, ev.thresholds_for(0.5), categories=[1, 2, 3], images=[1, 2])
    errors = ev.analyse(m, gt, dt, 0.5)
    assert errors.dt_category.tolist() == ["tp", "duplicate", "class_confusion", "localisation", "background"]
    assert errors.dt_partner.tolist() == [0, 0, 0, 1, -1]
    assert errors.gt_category.tolist() == ["found", "missed", "missed"]
    assert errors.counts["missed"] == 2
    # rows actual (cat, dog, bird, background), columns predicted
    cm = errors.confusion
    assert cm[0, 0] == 1 and cm[0, 1] == 1  # TP cat; dog predicted on a cat
    assert cm[1, 3] == 2  # two missed dogs
    assert cm[3, 0] == 1 and cm[3, 1] == 1 and cm[3, 2] == 1  # duplicate cat, loose dog, bird: background FPs
    assert cm[:, :3].sum() == len(dt)  # every prediction counted once
    scores = ev.image_scores(m, gt, dt, errors)
    assert scores["fn"].tolist() == [1, 1] and scores["fp"].tolist() == [4, 0]
    assert scores["worst"][0] == pytest.approx(1 + 0.8 + 0.7 + 0.6 + 0.5 + 0.5 * 2)


def test_summary_reply():
    gts, dts = synthetic(11, 30, 3)
    gt, dt = engine(gts, dts, 3, n_images=30)[2:]
    reply = ev.evaluate(gt, dt, 0.5, categories=[1, 2, 3], images=range(1, 31), category_names={1: "a", 2: "b", 3: "c"})
    e = pycoco(gts, dts, 30, 3)
    assert reply["map"] == e.stats[0] and reply["map50"] == e.stats[1]
    assert [c["category"] for c in reply["per_class"]] == ["a", "b", "c"]
    assert reply["tp"] + reply["fn"] == sum(c["ground_truth"] for c in reply["per_class"])
    assert len(reply["pr_curve"]["precision"]) == 101
    other = ev.evaluate(gt, dt, 0.6, categories=[1, 2, 3], images=range(1, 31))
    assert other["iou"] == 0.6 and other["map"] == reply["map"] and other["tp"] <= reply["tp"]


def test_empty_inputs_and_classes_without_ground_truth():
    no_boxes = np.zeros((0, 4))
    gt = ev.GroundTruth(image=[1, 2], category=[1, 1], boxes=[[0, 0, 10, 10], [0, 0, 5, 5]])
    none = ev.Predictions(image=[], category=[], boxes=no_boxes, score=[])
    reply = ev.evaluate(gt, none, 0.5, categories=[1, 2], images=[1, 2, 3])
    assert (reply["map"], reply["tp"], reply["fp"], reply["fn"]) == (0.0, 0, 0, 2)
    assert reply["confusion"]["matrix"] == [[0, 0, 2], [0, 0, 0], [0, 0, 0]]
    # a prediction of a class that has no ground truth: AP undefined, but it is a false positive
    lone = ev.Predictions(image=[1], category=[2], boxes=[[50, 50, 5, 5]], score=[0.5])
    reply = ev.evaluate(gt, lone, 0.5, categories=[1, 2], images=[1, 2])
    assert reply["fp"] == 1 and reply["errors"]["background"] == 1
    assert reply["per_class"][1]["ap"] is None and reply["per_class"][1]["fp"] == 1
    empty = ev.GroundTruth(image=[], category=[], boxes=no_boxes)
    assert ev.evaluate(empty, none, 0.5, categories=[], images=[])["map"] is None


def test_chunked_matching_gives_the_same_result(monkeypatch):
    """Tiny pair chunks split (image, class) groups across chunks: decisions must not change."""
    n_images, n_cats = 30, 3
    gts, dts = synthetic(5, n_images, n_cats, crowd_rate=0.1)
    e = pycoco(gts, dts, n_images, n_cats)
    monkeypatch.setattr(ev, "PAIR_CHUNK", 7)
    m, acc, gt, dt = engine(gts, dts, n_cats, n_images=n_images)
    np.testing.assert_array_equal(acc.precision, e.eval["precision"][:, :, :, 0, 2])
    errors = ev.analyse(m, gt, dt, 0.5)
    monkeypatch.setattr(ev, "PAIR_CHUNK", 4_000_000)
    m2, _, _, _ = engine(gts, dts, n_cats, n_images=n_images)
    np.testing.assert_array_equal(m.dt_match, m2.dt_match)
    np.testing.assert_array_equal(errors.dt_code, ev.analyse(m2, gt, dt, 0.5).dt_code)


def test_dense_overlapping_scenes_equal_pycocotools():
    """Crowded images of one class: many candidate boxes per detection, equal IoUs and equal scores."""
    rng = np.random.default_rng(3)
    gts, dts = [], []
    for img in range(1, 16):
        grid = [(x, y) for x in range(0, 100, 20) for y in range(0, 60, 20)]  # touching, equal-sized boxes
        for k, (x, y) in enumerate(grid):
            gts.append((img, 1, [float(x), float(y), 20.0, 20.0], k % 11 == 0))
        for _ in range(60):
            x, y = rng.integers(0, 90, 2).astype(float)
            dts.append((img, 1, [x, y, 20.0, 20.0], float(rng.integers(0, 4)) / 4))  # four score levels
    e = pycoco(gts, dts, 15, 1)
    m, acc, _, _ = engine(gts, dts, 1, n_images=15)
    np.testing.assert_array_equal(acc.precision, e.eval["precision"][:, :, :, 0, 2])
    assert ev.mean_valid(acc.precision) == e.stats[0]


def test_false_positives_on_images_without_ground_truth_count():
    """Images with predictions but no box (a third of them here) are part of the evaluation, like pycocotools'
    imgIds: their predictions are false positives. Leaving those images out raised mAP (0.20580 vs 0.20477
    on 10K images), so the image set is a required argument of match() and evaluate()."""
    n_images, n_cats = 60, 4
    gts, dts = synthetic(7, n_images, n_cats)
    gts = [g for g in gts if g[0] % 3]  # images 3, 6, 9, ... keep their predictions but lose their boxes
    assert any(d[0] % 3 == 0 for d in dts)
    e = pycoco(gts, dts, n_images, n_cats)
    m, acc, gt, dt = engine(gts, dts, n_cats, n_images=n_images)
    np.testing.assert_array_equal(acc.precision, e.eval["precision"][:, :, :, 0, 2])
    assert ev.mean_valid(acc.precision) == e.stats[0]
    assert ev.evaluate(gt, dt, 0.5, images=range(1, n_images + 1), categories=range(1, n_cats + 1))["map"] == e.stats[0]
    # the images derived from the ground truth would give a different (higher) number: omitting is refused
    with_gt_only = ev.match(gt, dt, ev.IOU_THRESHOLDS, images=np.unique(gt.image), categories=range(1, n_cats + 1))
    assert ev.mean_valid(ev.accumulate(with_gt_only, gt, dt).precision) > e.stats[0]
    with pytest.raises(TypeError):
        ev.match(gt, dt, ev.IOU_THRESHOLDS)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ev.match(gt, dt, ev.IOU_THRESHOLDS, images=None)
    with pytest.raises(TypeError):
        ev.evaluate(gt, dt, 0.5)  # type: ignore[call-arg]


def _gt(rows) -> ev.GroundTruth:
    return ev.GroundTruth(
        image=[g[0] for g in rows],
        category=[g[1] for g in rows],
        boxes=np.array([g[2] for g in rows]).reshape(-1, 4),
        iscrowd=[g[3] for g in rows],
        ids=[g[4] for g in rows],
    )


def test_rematching_edited_images_equals_a_full_evaluation():
    """Edit the ground truth of a few images (move, relabel, delete, add boxes), re-match only those and
    re-accumulate only the touched classes: every number equals evaluating everything again, twice over."""
    n_images, n_cats = 50, 5
    gts, dts = synthetic(9, n_images, n_cats, crowd_rate=0.08)
    gts = [(*g, k) for k, g in enumerate(gts)]  # with their annotation ids
    images = np.arange(1, n_images + 1)
    cats = np.arange(1, n_cats + 1)
    gt = _gt(gts)
    dt = engine(gts, dts, n_cats, n_images=n_images)[3]
    m = ev.match(gt, dt, ev.IOU_THRESHOLDS, images=images, categories=cats)
    acc, errors = ev.accumulate(m, gt, dt), ev.analyse(m, gt, dt, 0.5)
    scores = ev.image_scores(m, gt, dt, errors)
    mask = images % 2 == 0  # a split: its accumulation patches the same way
    split_acc = ev.accumulate(m, gt, dt, image_mask=mask)
    rng = np.random.default_rng(1)
    next_id = 1000
    for edited in ({3, 17, 41}, {17, 22}):
        new_gts = []
        for k, (i, c, b, cr, gid) in enumerate(gts):
            if i not in edited:
                new_gts.append((i, c, b, cr, gid))
            elif k % 3 == 0:
                continue  # deleted
            elif k % 3 == 1:
                new_gts.append((i, c % n_cats + 1, b, cr, gid))  # relabelled
            else:
                new_gts.append((i, c, [b[0] + 3, b[1] - 2, b[2] * 1.2, b[3]], cr, gid))  # moved
        for i in sorted(edited):
            new_gts.append((i, int(rng.integers(1, n_cats + 1)), [*rng.uniform(0, 300, 2), 40.0, 30.0], False, next_id))
            next_id += 1
        gts = new_gts
        sub = sorted((g for g in gts if g[0] in edited), key=lambda g: g[4])
        p = ev.rematch_images(gt, dt, m, errors, scores, np.array(sorted(edited)), _gt(sub))
        acc = ev.accumulate(p.m, p.gt, dt, previous=acc, classes=p.classes)
        split_acc = ev.accumulate(p.m, p.gt, dt, image_mask=mask, previous=split_acc, classes=p.classes)
        gt, m, errors, scores = p.gt, p.m, p.errors, p.images

        # the full evaluation of the edited dataset (ground truth in id order, as the database loads it)
        gt_full = _gt(sorted(gts, key=lambda g: g[4]))
        m_full = ev.match(gt_full, dt, ev.IOU_THRESHOLDS, images=images, categories=cats)
        acc_full, e_full = ev.accumulate(m_full, gt_full, dt), ev.analyse(m_full, gt_full, dt, 0.5)
        np.testing.assert_array_equal(acc.precision, acc_full.precision)
        np.testing.assert_array_equal(acc.recall, acc_full.recall)
        for name in ("tp", "fp", "fn", "n_gt", "n_dt"):
            np.testing.assert_array_equal(getattr(acc, name), getattr(acc_full, name))
        np.testing.assert_array_equal(
            split_acc.precision, ev.accumulate(m_full, gt_full, dt, image_mask=mask).precision
        )

        def ids(g: ev.GroundTruth, index: np.ndarray) -> np.ndarray:
            return np.where(index >= 0, g.ids[np.maximum(index, 0)], -1)

        np.testing.assert_array_equal(ids(gt, m.dt_match), ids(gt_full, m_full.dt_match))
        np.testing.assert_array_equal(errors.dt_code, e_full.dt_code)
        np.testing.assert_array_equal(ids(gt, errors.dt_partner), ids(gt_full, e_full.dt_partner))
        live = m.gt_cat >= 0
        assert sorted(gt.ids[live]) == sorted(gt_full.ids)
        by_id = dict(zip(gt.ids[live], errors.gt_partner[live], strict=True))
        assert by_id == dict(zip(gt_full.ids, e_full.gt_partner, strict=True))
        np.testing.assert_array_equal(errors.confusion, e_full.confusion)
        assert errors.counts == e_full.counts
        full_scores = ev.image_scores(m_full, gt_full, dt, e_full)
        for key in scores:
            np.testing.assert_array_equal(scores[key], full_scores[key])
        assert ev.summarise(m, acc, 0.5, errors=errors) == ev.summarise(m_full, acc_full, 0.5, errors=e_full)
