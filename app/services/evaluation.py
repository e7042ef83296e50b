"""COCO-style detection evaluation: matching, AP/mAP, error analysis, worst images. Pure numpy, no I/O.

The numbers equal pycocotools' `COCOeval(iouType="bbox")` (area range 'all', maxDets 100), because the
engine reproduces its decisions rather than approximating them:

* detections are grouped by (image, category), sorted by score descending with a stable sort (ties keep
  input order, like `np.argsort(-score, kind="mergesort")`) and cut to `max_dets` per group;
* ground truth is ordered "ignore last" (stable); ignore = iscrowd or area outside [0, 1e10];
* IoU is bit-for-bit the C routine `bbIou` of pycocotools: for crowd ground truth the union is the
  detection's area;
* greedy matching per detection in score order: among ground truth not yet matched (crowd ground truth
  can be matched again) with IoU >= min(t, 1 - 1e-10), a regular box beats an ignored one, then the
  highest IoU wins, then the later box in ground-truth order (pycocotools' `>=` running maximum);
  detections matched to ignored ground truth, and unmatched detections outside the area range, are ignored;
* accumulation per category orders detections by score with a stable sort over (image id, rank), builds
  cumulative TP/FP, interpolates precision monotonically and samples it at 101 recall thresholds.

The greedy matching is sequential inside a group but independent across groups, so it runs in rounds:
round r handles the r-th detection of every group at once over a flat array of (detection, ground truth)
pairs, for all IoU thresholds together. Pairs below the lowest threshold can never match and are dropped
before the rounds. Work is chunked so the pair arrays stay bounded in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_ALL = (0.0**2, 1e5**2)
MAX_DETS = 100
LOCALISATION_MIN_IOU = 0.1
PAIR_CHUNK = 4_000_000  # (detection, ground truth) pairs held at once

# Error categories of a prediction, and of a ground-truth box.
TP, LOCALISATION, CONFUSION, DUPLICATE, BACKGROUND = "tp", "localisation", "class_confusion", "duplicate", "background"
CROWD, OVER_MAX_DETS = "crowd", "over_max_dets"  # ignored predictions: matched a crowd region / beyond maxDets
FOUND, MISSED, IGNORED_GT = "found", "missed", "ignored"
PREDICTION_CATEGORIES = (TP, LOCALISATION, CONFUSION, DUPLICATE, BACKGROUND, CROWD, OVER_MAX_DETS)
_CAT_CODES = {name: i for i, name in enumerate(PREDICTION_CATEGORIES)}


def _f64(a: Any, n: int, cols: int | None = None) -> np.ndarray:
    out = np.asarray(a, dtype=np.float64)
    return out.reshape(n, cols) if cols else out.reshape(n)


def _normalise_boxes(boxes: GroundTruth | Predictions) -> int:
    """Shared columns as contiguous numpy arrays: image, category (int64), boxes (n, 4 float64), ids."""
    n = len(boxes.image)
    boxes.image = np.asarray(boxes.image, dtype=np.int64).reshape(n)
    boxes.category = np.asarray(boxes.category, dtype=np.int64).reshape(n)
    boxes.boxes = _f64(boxes.boxes, n, 4)
    boxes.ids = np.arange(n, dtype=np.int64) if boxes.ids is None else np.asarray(boxes.ids, np.int64).reshape(n)
    return n


@dataclass
class GroundTruth:
    """Ground-truth boxes as columns. `image` values order images the way pycocotools' sorted imgIds do."""

    image: np.ndarray
    category: np.ndarray
    boxes: np.ndarray  # (n, 4) x, y, w, h
    iscrowd: np.ndarray | None = None
    area: np.ndarray | None = None  # COCO 'area' (segment area); defaults to w*h
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = _normalise_boxes(self)
        self.iscrowd = np.zeros(n, bool) if self.iscrowd is None else np.asarray(self.iscrowd, bool).reshape(n)
        self.area = self.boxes[:, 2] * self.boxes[:, 3] if self.area is None else _f64(self.area, n)

    def __len__(self) -> int:
        return len(self.image)


@dataclass
class Predictions:
    image: np.ndarray
    category: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.score = _f64(self.score, _normalise_boxes(self))

    def __len__(self) -> int:
        return len(self.image)


def box_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of paired boxes, the exact arithmetic of pycocotools' `bbIou` (crowd: union = detection area)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
        h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
        inter = w * h
        da = d[:, 2] * d[:, 3]
        ga = g[:, 2] * g[:, 3]
        union = np.where(crowd, da, da + ga - inter)
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ranges [start, start+count): returns (owner index, value) for every element."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts)), counts)
    if total == 0:
        return owner, np.zeros(0, np.int64)
    first = np.cumsum(counts) - counts
    value = np.arange(total, dtype=np.int64) - np.repeat(first, counts) + np.repeat(starts, counts)
    return owner, value


def _chunks(weights: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split indices 0..n into consecutive runs whose weight sums stay near `limit`."""
    n = len(weights)
    if n == 0:
        return []
    cum = np.cumsum(weights)
    bounds = [0]
    while bounds[-1] < n:
        base = cum[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(cum, base + limit, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    bounds[-1] = n
    return list(zip(bounds[:-1], bounds[1:], strict=True))


@dataclass
class Matching:
    """Per-detection and per-ground-truth results at each threshold (indices refer to the inputs)."""

    thresholds: np.ndarray
    categories: np.ndarray  # evaluated category ids (sorted)
    images: np.ndarray  # evaluated image ids (sorted)
    gt_img: np.ndarray  # image position of each gt (-1 if not evaluated)
    gt_cat: np.ndarray  # category position (-1 if not evaluated)
    gt_ignore: np.ndarray
    gt_match: np.ndarray  # (n_gt, T) detection index or -1
    dt_img: np.ndarray
    dt_cat: np.ndarray
    dt_rank: np.ndarray  # rank by score inside (image, category)
    dt_kept: np.ndarray  # evaluated and within max_dets
    dt_match: np.ndarray  # (n_dt, T) gt index or -1
    dt_iou: np.ndarray  # (n_dt, T) IoU with the matched gt (0 if none)
    dt_ignore: np.ndarray  # (n_dt, T)
    accumulation_order: np.ndarray | None = None  # cached by accumulate()

    def threshold_index(self, iou: float) -> int:
        hits = np.nonzero(self.thresholds == iou)[0]
        if len(hits) == 0:
            raise KeyError(f"IoU threshold {iou} was not matched")
        return int(hits[0])


def _codes(values: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted `universe`, -1 where absent."""
    pos = np.searchsorted(universe, values)
    pos = np.minimum(pos, max(len(universe) - 1, 0))
    ok = (universe[pos] == values) if len(universe) else np.zeros(len(values), bool)
    return np.where(ok, pos, -1)


def match(
    gt: GroundTruth,
    dt: Predictions,
    thresholds: Any = IOU_THRESHOLDS,
    *,
    images: Any,
    categories: Any = None,
    max_dets: int = MAX_DETS,
    area_range: tuple[float, float] = AREA_ALL,
) -> Matching:
    """Match `dt` against `gt` over exactly `images` (every image of the dataset, like pycocotools' imgIds).

    `images` is required: derived from the ground truth it would leave out images without any box, and with
    them every false positive found there (mAP too high). Predictions on images outside it are not evaluated.
    """
    if images is None:
        raise TypeError("match() needs the full image set (images=...), not None")
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    t_eff = np.minimum(thresholds, 1 - 1e-10)
    T = len(thresholds)
    cats = np.unique(gt.category) if categories is None else np.unique(np.asarray(categories, np.int64))
    imgs = np.unique(np.asarray(images, np.int64))
    K = max(len(cats), 1)

    gt_img, gt_cat = _codes(gt.image, imgs), _codes(gt.category, cats)
    dt_img, dt_cat = _codes(dt.image, imgs), _codes(dt.category, cats)
    gt_ok, dt_ok = (gt_img >= 0) & (gt_cat >= 0), (dt_img >= 0) & (dt_cat >= 0)
    gt_group = np.where(gt_ok, gt_img * K + gt_cat, -1)
    dt_group = np.where(dt_ok, dt_img * K + dt_cat, -1)
    gt_ignore = gt.iscrowd | (gt.area < area_range[0]) | (gt.area > area_range[1])

    n_gt, n_dt = len(gt), len(dt)
    # ground truth: by group, ignore last, then input order
    g_order = np.lexsort((np.arange(n_gt), gt_ignore, gt_group))
    g_order = g_order[gt_ok[g_order]]
    g_groups = gt_group[g_order]
    # detections: by group, score descending (stable), then input order
    d_order = np.lexsort((np.arange(n_dt), -dt.score, dt_group))
    d_order = d_order[dt_ok[d_order]]
    d_groups = dt_group[d_order]
    group_start = np.searchsorted(d_groups, d_groups, side="left")
    rank_sorted = np.arange(len(d_order)) - group_start
    dt_rank = np.full(n_dt, -1, np.int64)
    dt_rank[d_order] = rank_sorted
    keep_sorted = rank_sorted < max_dets
    dt_kept = np.zeros(n_dt, bool)
    dt_kept[d_order[keep_sorted]] = True

    d_order, d_groups, rank_sorted = d_order[keep_sorted], d_groups[keep_sorted], rank_sorted[keep_sorted]
    gs = np.searchsorted(g_groups, d_groups, side="left")
    ge = np.searchsorted(g_groups, d_groups, side="right")
    n_pairs = ge - gs

    gt_match = np.full((n_gt, T), -1, np.int64)
    dt_match = np.full((n_dt, T), -1, np.int64)
    dt_iou = np.zeros((n_dt, T), np.float64)
    matched = np.zeros((n_gt, T), bool)  # regular + non-crowd ignored gts are consumed by a match
    floor = t_eff.min() if T else 1.0

    for lo, hi in _chunks(n_pairs, PAIR_CHUNK):
        owner, gpos = _ranges(gs[lo:hi], n_pairs[lo:hi])
        if len(owner) == 0:
            continue
        det = d_order[lo:hi][owner]  # input index of the detection
        gti = g_order[gpos]  # input index of the gt
        crowd = gt.iscrowd[gti]
        iou = box_iou(dt.boxes[det], gt.boxes[gti], crowd)
        useful = iou >= floor
        det, gti, gpos, iou, crowd = det[useful], gti[useful], gpos[useful], iou[useful], crowd[useful]
        rank = dt_rank[det]
        regular = ~gt_ignore[gti]
        # within a detection's pairs, ascending preference: regular last, then IoU, then gt order
        order = np.lexsort((gpos, iou, regular, det, rank))
        det, gti, iou, crowd, rank = det[order], gti[order], iou[order], crowd[order], rank[order]
        round_bounds = np.searchsorted(rank, np.arange(rank.max() + 2 if len(rank) else 1))
        reusable = crowd[:, None]
        for r in range(len(round_bounds) - 1):
            a, b = round_bounds[r], round_bounds[r + 1]
            if a == b:
                continue
            g_r = gti[a:b]
            valid = (~matched[g_r] | reusable[a:b]) & (iou[a:b, None] >= t_eff[None, :])
            pos = np.where(valid, np.arange(b - a)[:, None], -1)
            det_r = det[a:b]
            starts = np.flatnonzero(np.r_[True, det_r[1:] != det_r[:-1]])
            best = np.maximum.reduceat(pos, starts, axis=0)  # (n_det_r, T)
            hit = best >= 0
            if not hit.any():
                continue
            seg, t_idx = np.nonzero(hit)
            p = best[seg, t_idx] + a
            d_in, g_in = det[p], gti[p]
            dt_match[d_in, t_idx] = g_in
            dt_iou[d_in, t_idx] = iou[p]
            matched[g_in, t_idx] = True
            nc = ~crowd[p]
            gt_match[g_in[nc], t_idx[nc]] = d_in[nc]

    has = dt_match >= 0
    dt_ignore = np.zeros((n_dt, T), bool)
    dt_ignore[has] = gt_ignore[dt_match[has]]
    dt_area = dt.boxes[:, 2] * dt.boxes[:, 3]
    out_of_range = (dt_area < area_range[0]) | (dt_area > area_range[1])
    dt_ignore |= (~has) & out_of_range[:, None]
    return Matching(
        thresholds=thresholds,
        categories=cats,
        images=imgs,
        gt_img=gt_img,
        gt_cat=np.where(gt_ok, gt_cat, -1),
        gt_ignore=gt_ignore,
        gt_match=gt_match,
        dt_img=dt_img,
        dt_cat=np.where(dt_ok, dt_cat, -1),
        dt_rank=dt_rank,
        dt_kept=dt_kept,
        dt_match=dt_match,
        dt_iou=dt_iou,
        dt_ignore=dt_ignore,
    )


@dataclass
class Accumulated:
    precision: np.ndarray  # (T, R, K), -1 for categories without (non-ignored) ground truth
    recall: np.ndarray  # (T, K), -1 likewise
    tp: np.ndarray  # (T, K) counts
    fp: np.ndarray  # (T, K)
    fn: np.ndarray  # (T, K)
    n_gt: np.ndarray  # (K,) non-ignored ground truth
    n_dt: np.ndarray  # (K,) evaluated detections
    # the detections of this image subset in accumulation order and each class's slice of it: predictions
    # never change after import, so an update of some images' ground truth reuses them
    order: np.ndarray | None = None
    bounds: np.ndarray | None = None


def accumulate(
    m: Matching,
    gt: GroundTruth,
    dt: Predictions,
    image_mask: np.ndarray | None = None,
    *,
    previous: Accumulated | None = None,
    classes: np.ndarray | None = None,
) -> Accumulated:
    """pycocotools' `accumulate` for one area range and one maxDets, optionally on a subset of images.

    `image_mask` is a boolean per position of `m.images`. With `previous` (the result of the same call
    before some images were re-matched) only the category positions in `classes` are recomputed: the
    precision of a class depends on nothing but its own score-sorted TP/FP list and ground-truth count.
    """
    T, R, K = len(m.thresholds), len(RECALL_THRESHOLDS), len(m.categories)
    patch = previous is not None and classes is not None
    if patch:
        assert previous is not None and classes is not None
        precision, recall = previous.precision.copy(), previous.recall.copy()
        tp_c, fp_c, fn_c = previous.tp.copy(), previous.fp.copy(), previous.fn.copy()
        n_gt_c, n_dt_c = previous.n_gt.copy(), previous.n_dt.copy()
        todo: Any = sorted({int(k) for k in classes if 0 <= k < K})
        precision[:, :, todo], recall[:, todo] = -1, -1
    else:
        precision = -np.ones((T, R, K))
        recall = -np.ones((T, K))
        tp_c, fp_c, fn_c = (np.zeros((T, K), np.int64) for _ in range(3))
        n_gt_c, n_dt_c = np.zeros(K, np.int64), np.zeros(K, np.int64)
        todo = range(K)

    g_sel = m.gt_cat >= 0
    if patch:
        wanted = np.zeros(K + 1, bool)
        wanted[todo] = True
        g_sel &= wanted[m.gt_cat]  # gt_cat -1 lands on the last slot: False
    if image_mask is not None:
        g_sel &= image_mask[np.maximum(m.gt_img, 0)] & (m.gt_img >= 0)
    g_idx = np.flatnonzero(g_sel & ~m.gt_ignore)
    g_cat = m.gt_cat[g_idx]
    npig = np.bincount(g_cat, minlength=K)
    unmatched = m.gt_match[g_idx] < 0  # one gather for every threshold
    missed = np.stack([np.bincount(g_cat, weights=unmatched[:, t], minlength=K) for t in range(T)]) if T else None
    if patch:
        if T:
            fn_c[:, todo] = missed[:, todo].astype(np.int64)
        n_gt_c[todo] = npig[todo]
    else:
        if T:
            fn_c[:] = missed.astype(np.int64)
        n_gt_c[:] = npig

    if previous is not None and previous.order is not None and previous.bounds is not None:
        d_idx, bounds = previous.order, previous.bounds
    else:
        if m.accumulation_order is None:
            # per category: score descending, stable over (image id, rank in group): pycocotools' concatenation
            # order. Computed once over all kept detections; a subset of images keeps the same relative order.
            kept = np.flatnonzero(m.dt_kept)
            m.accumulation_order = kept[np.lexsort((m.dt_rank[kept], m.dt_img[kept], -dt.score[kept], m.dt_cat[kept]))]
        d_idx = m.accumulation_order
        if image_mask is not None:
            d_sel = m.dt_kept & (m.dt_img >= 0) & image_mask[np.maximum(m.dt_img, 0)]
            d_idx = d_idx[d_sel[d_idx]]
        bounds = np.searchsorted(m.dt_cat[d_idx], np.arange(K + 1))
    n_dt_c[:] = np.diff(bounds)
    eps = np.spacing(1)
    for k in todo:
        a, b = bounds[k], bounds[k + 1]
        rows = d_idx[a:b]
        matched = (m.dt_match[rows] >= 0).T  # (T, nd)
        ignored = m.dt_ignore[rows].T
        tps = matched & ~ignored
        fps = ~matched & ~ignored
        tp_c[:, k] = tps.sum(axis=1)
        fp_c[:, k] = fps.sum(axis=1)  # predictions of a class without ground truth are all false positives
        if npig[k] == 0:
            continue  # AP undefined (-1), as in pycocotools
        tp_sum = np.cumsum(tps, axis=1).astype(float)
        fp_sum = np.cumsum(fps, axis=1).astype(float)
        nd = b - a
        rc = tp_sum / npig[k]
        pr = tp_sum / (fp_sum + tp_sum + eps)
        if nd:
            recall[:, k] = rc[:, -1]
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
            for t in range(T):
                inds = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                q = np.zeros(R)
                ok = inds < nd
                q[ok] = pr[t, inds[ok]]  # inds ascend: past the reachable recall everything stays 0
                precision[t, :, k] = q
        else:
            recall[:, k] = 0.0
            precision[:, :, k] = 0.0
    return Accumulated(precision, recall, tp_c, fp_c, fn_c, n_gt_c, n_dt_c, order=d_idx, bounds=bounds)


def mean_valid(values: np.ndarray) -> float:
    """pycocotools' summarize: mean of the entries > -1, or -1 if there are none."""
    v = values[values > -1]
    return float(np.mean(v)) if len(v) else -1.0


# --------------------------------------------------------------------------------------- error analysis
@dataclass
class ErrorAnalysis:
    """At one IoU threshold: a category, partner and IoU for every prediction and ground-truth box."""

    threshold: float
    dt_category: np.ndarray  # object array of PREDICTION_CATEGORIES (None if not evaluated)
    dt_code: np.ndarray  # the same as int8 positions in PREDICTION_CATEGORIES (-1 if not evaluated)
    gt_missed: np.ndarray  # bool
    dt_partner: np.ndarray  # gt index or -1
    dt_iou: np.ndarray
    gt_category: np.ndarray  # FOUND / MISSED / IGNORED_GT (None if not evaluated)
    gt_partner: np.ndarray  # dt index or -1
    gt_iou: np.ndarray
    gt_confused_by: np.ndarray  # for missed gts: index of a class-confusion prediction on it, or -1
    cm_actual: np.ndarray  # per prediction: category position of the actual class, -1 = background
    cm_predicted_gt: np.ndarray  # per gt: category position of what it was predicted as, -1 = background
    dt_in_matrix: np.ndarray  # the prediction is counted in the confusion matrix (TP or false positive)
    gt_in_matrix: np.ndarray  # the missed box is counted at (actual, background)
    confusion: np.ndarray  # (K+1, K+1) rows actual, cols predicted; index K = background
    counts: dict[str, int] = field(default_factory=dict)


def _best_per_det(det: np.ndarray, gti: np.ndarray, iou: np.ndarray, n_dt: int) -> tuple[np.ndarray, np.ndarray]:
    best_iou = np.zeros(n_dt)
    best_gt = np.full(n_dt, -1, np.int64)
    if len(det) == 0:
        return best_iou, best_gt
    order = np.lexsort((iou, det))
    det, gti, iou = det[order], gti[order], iou[order]
    last = np.flatnonzero(np.r_[det[1:] != det[:-1], True])
    best_iou[det[last]] = iou[last]
    best_gt[det[last]] = gti[last]
    return best_iou, best_gt


def analyse(m: Matching, gt: GroundTruth, dt: Predictions, iou: float) -> ErrorAnalysis:
    """Error categories at threshold `iou` (which must be one of `m.thresholds`).

    Unmatched predictions, in priority order: duplicate (same class, IoU >= threshold with a box already
    matched), class confusion (another class's box with IoU >= threshold), localisation (same class, best
    IoU in [0.1, threshold)), background (nothing). Crowd-matched and beyond-maxDets predictions are ignored,
    as in COCO. The confusion matrix counts each prediction once: TP at (c, c), class confusion at (actual,
    predicted), any other false positive at (background, predicted); each missed box not explained by a
    class-confusion prediction at (actual, background).
    """
    t = m.threshold_index(iou)
    thr = min(float(m.thresholds[t]), 1 - 1e-10)
    n_dt, n_gt, K = len(dt), len(gt), len(m.categories)
    kept = m.dt_kept
    matched = m.dt_match[:, t]
    ignored = m.dt_ignore[:, t]

    # best same-class / other-class IoU per prediction against regular ground truth of the same image
    g_ok = (m.gt_img >= 0) & ~m.gt_ignore
    g_idx = np.flatnonzero(g_ok)
    g_idx = g_idx[np.argsort(m.gt_img[g_idx], kind="stable")]
    g_imgs = m.gt_img[g_idx]
    d_idx = np.flatnonzero(kept & (matched < 0))
    gs = np.searchsorted(g_imgs, m.dt_img[d_idx], side="left")
    ge = np.searchsorted(g_imgs, m.dt_img[d_idx], side="right")
    same_iou, same_gt = np.zeros(n_dt), np.full(n_dt, -1, np.int64)
    other_iou, other_gt = np.zeros(n_dt), np.full(n_dt, -1, np.int64)
    for lo, hi in _chunks(ge - gs, PAIR_CHUNK):
        owner, gpos = _ranges(gs[lo:hi], (ge - gs)[lo:hi])
        if len(owner) == 0:
            continue
        det = d_idx[lo:hi][owner]
        gti = g_idx[gpos]
        v = box_iou(dt.boxes[det], gt.boxes[gti], np.zeros(len(det), bool))
        pos = v > 0
        det, gti, v = det[pos], gti[pos], v[pos]
        same = dt.category[det] == gt.category[gti]
        si, sg = _best_per_det(det[same], gti[same], v[same], n_dt)
        oi, og = _best_per_det(det[~same], gti[~same], v[~same], n_dt)
        upd = si > same_iou
        same_iou[upd], same_gt[upd] = si[upd], sg[upd]
        upd = oi > other_iou
        other_iou[upd], other_gt[upd] = oi[upd], og[upd]

    codes = np.full(n_dt, -1, np.int8)
    partner = np.full(n_dt, -1, np.int64)
    piou = np.zeros(n_dt)
    is_tp = kept & (matched >= 0) & ~ignored
    is_crowd = kept & (matched >= 0) & ignored
    codes[is_tp] = _CAT_CODES[TP]
    codes[is_crowd] = _CAT_CODES[CROWD]
    partner[is_tp | is_crowd] = matched[is_tp | is_crowd]
    piou[is_tp | is_crowd] = m.dt_iou[is_tp | is_crowd, t]
    evaluated = (m.dt_img >= 0) & (m.dt_cat >= 0)
    codes[evaluated & ~kept] = _CAT_CODES[OVER_MAX_DETS]
    fp = kept & (matched < 0)
    fp_ignored = fp & ignored  # outside the area range: ignored like COCO (cannot happen for 'all' in practice)
    codes[fp_ignored] = _CAT_CODES[OVER_MAX_DETS]
    fp &= ~ignored
    dup = fp & (same_iou >= thr)
    conf = fp & ~dup & (other_iou >= thr)
    loc = fp & ~dup & ~conf & (same_iou >= LOCALISATION_MIN_IOU)
    bg = fp & ~dup & ~conf & ~loc
    for mask, name, p_gt, p_iou in (
        (dup, DUPLICATE, same_gt, same_iou),
        (conf, CONFUSION, other_gt, other_iou),
        (loc, LOCALISATION, same_gt, same_iou),
    ):
        codes[mask] = _CAT_CODES[name]
        partner[mask] = p_gt[mask]
        piou[mask] = p_iou[mask]
    codes[bg] = _CAT_CODES[BACKGROUND]
    best_any = np.maximum(same_iou, other_iou)
    piou[bg] = best_any[bg]

    names = np.array((*PREDICTION_CATEGORIES, None), dtype=object)
    dt_category = names[codes]  # code -1 -> None

    # ground truth
    g_eval = m.gt_cat >= 0
    gt_partner = np.where(g_eval, m.gt_match[:, t], -1)
    gt_iou = np.zeros(n_gt)
    found = gt_partner >= 0
    gt_iou[found] = m.dt_iou[gt_partner[found], t]
    gt_category = np.full(n_gt, None, dtype=object)
    gt_category[g_eval & m.gt_ignore] = IGNORED_GT
    gt_category[g_eval & ~m.gt_ignore & found] = FOUND
    is_missed = g_eval & ~m.gt_ignore & ~found
    gt_category[is_missed] = MISSED
    # a missed box may be explained by a class-confusion prediction (the highest-scoring one)
    confused_by = np.full(n_gt, -1, np.int64)
    c_idx = np.flatnonzero(conf)
    c_idx = c_idx[np.lexsort((c_idx, -dt.score[c_idx]))][::-1]  # ascending priority; last write wins
    confused_by[partner[c_idx]] = c_idx
    confused_by[~is_missed] = -1
    cm_predicted_gt = np.full(n_gt, -1, np.int64)
    has_c = confused_by >= 0
    cm_predicted_gt[has_c] = m.dt_cat[confused_by[has_c]]

    cm_actual = np.full(n_dt, -1, np.int64)
    cm_actual[is_tp] = m.dt_cat[is_tp]
    cm_actual[conf] = m.gt_cat[partner[conf]]
    counted = is_tp | fp
    lone = is_missed & ~has_c

    counts = {name: int((codes == _CAT_CODES[name]).sum()) for name in PREDICTION_CATEGORIES}
    counts[MISSED] = int(is_missed.sum())
    return ErrorAnalysis(
        threshold=float(m.thresholds[t]),
        dt_category=dt_category,
        dt_code=codes,
        gt_missed=is_missed,
        dt_partner=partner,
        dt_iou=piou,
        gt_category=gt_category,
        gt_partner=gt_partner,
        gt_iou=gt_iou,
        gt_confused_by=confused_by,
        cm_actual=cm_actual,
        cm_predicted_gt=cm_predicted_gt,
        dt_in_matrix=counted,
        gt_in_matrix=lone,
        confusion=_confusion(m, cm_actual, counted, lone, K),
        counts=counts,
    )


def _confusion(
    m: Matching,
    cm_actual: np.ndarray,
    dt_in: np.ndarray,
    gt_in: np.ndarray,
    K: int,
    image_mask: np.ndarray | None = None,
) -> np.ndarray:
    if image_mask is not None:
        dt_in = dt_in & (m.dt_img >= 0) & image_mask[np.maximum(m.dt_img, 0)]
        gt_in = gt_in & (m.gt_img >= 0) & image_mask[np.maximum(m.gt_img, 0)]
    confusion = np.zeros((K + 1, K + 1), np.int64)
    rows = np.where(cm_actual[dt_in] >= 0, cm_actual[dt_in], K)
    np.add.at(confusion, (rows, m.dt_cat[dt_in]), 1)
    np.add.at(confusion, (m.gt_cat[gt_in], np.full(int(gt_in.sum()), K)), 1)
    return confusion


def image_scores(m: Matching, gt: GroundTruth, dt: Predictions, errors: ErrorAnalysis) -> dict[str, np.ndarray]:
    """Per evaluated image (positions of `m.images`): tp, fp, fn, errors and the worst-image score.

    worst = missed boxes + sum of the confidences of false positives + 0.5 x (localisation + class
    confusion) errors. A confident false positive costs nearly as much as a missed box, a low-confidence one
    almost nothing, and a box that was found but wrongly placed or named counts extra because the model
    was sure of something wrong.
    """
    n_img = len(m.images)
    d_ok = m.dt_img >= 0
    code = errors.dt_code
    c = _CAT_CODES
    tp = (code == c[TP]) & d_ok
    fp_cats = np.isin(code, [c[LOCALISATION], c[CONFUSION], c[DUPLICATE], c[BACKGROUND]]) & d_ok
    near = np.isin(code, [c[LOCALISATION], c[CONFUSION]]) & d_ok
    missed = errors.gt_missed & (m.gt_img >= 0)
    di, gi = np.maximum(m.dt_img, 0), np.maximum(m.gt_img, 0)
    n_tp = np.bincount(di[tp], minlength=n_img)
    n_fp = np.bincount(di[fp_cats], minlength=n_img)
    n_fn = np.bincount(gi[missed], minlength=n_img)
    fp_conf = np.bincount(di[fp_cats], weights=dt.score[fp_cats], minlength=n_img)
    n_near = np.bincount(di[near], minlength=n_img)
    worst = n_fn + fp_conf + 0.5 * n_near
    return {"tp": n_tp, "fp": n_fp, "fn": n_fn, "errors": n_fp + n_fn, "worst": worst}


# --------------------------------------------------------------------------------------------- summary
def thresholds_for(iou: float) -> np.ndarray:
    """COCO's ten thresholds, plus `iou` if it is not one of them."""
    if np.any(IOU_THRESHOLDS == iou):
        return IOU_THRESHOLDS.copy()
    return np.r_[IOU_THRESHOLDS, iou]


def summarise(
    m: Matching,
    acc: Accumulated,
    iou: float,
    *,
    category_mask: np.ndarray | None = None,
    errors: ErrorAnalysis | None = None,
    category_names: dict[int, str] | None = None,
    image_mask: np.ndarray | None = None,
) -> dict[str, Any]:
    """The evaluation reply: COCO numbers, counts at `iou`, PR curves, per class rows, errors, confusion.

    `acc` must have been accumulated with the same `image_mask` (a split); `category_mask` restricts the
    reply to some categories (mAP is then pycocotools' with catIds = those categories).
    """
    n_coco = len(IOU_THRESHOLDS)
    t = m.threshold_index(iou)
    K = len(m.categories)
    cmask = np.ones(K, bool) if category_mask is None else category_mask
    prec = acc.precision[:, :, cmask]
    coco = prec[:n_coco]
    names = category_names or {}
    per_class = []
    class_errors: dict[int, dict[str, int]] = {}
    if errors is not None:
        d_in = (m.dt_cat >= 0) & (errors.dt_code >= 0)
        g_in = (m.gt_cat >= 0) & errors.gt_missed
        if image_mask is not None:
            d_in &= (m.dt_img >= 0) & image_mask[np.maximum(m.dt_img, 0)]
            g_in &= (m.gt_img >= 0) & image_mask[np.maximum(m.gt_img, 0)]
        n_codes = len(PREDICTION_CATEGORIES)
        grid = np.bincount(
            m.dt_cat[d_in] * n_codes + errors.dt_code[d_in].astype(np.int64), minlength=K * n_codes
        ).reshape(K, n_codes)
        table = {name: grid[:, i] for i, name in enumerate(PREDICTION_CATEGORIES)}
        table[MISSED] = np.bincount(m.gt_cat[g_in], minlength=K)
        class_errors = {k: {name: int(v[k]) for name, v in table.items()} for k in range(K)}
    for k in np.flatnonzero(cmask):
        cid = int(m.categories[k])
        tp, fp, fn = int(acc.tp[t, k]), int(acc.fp[t, k]), int(acc.fn[t, k])
        has_gt = acc.n_gt[k] > 0
        per_class.append(
            {
                "category_id": cid,
                "category": names.get(cid, str(cid)),
                "ground_truth": int(acc.n_gt[k]),
                "predictions": int(acc.n_dt[k]),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "precision": tp / (tp + fp) if tp + fp else None,
                "recall": tp / (tp + fn) if tp + fn else None,
                "ap": mean_valid(acc.precision[:n_coco, :, k]) if has_gt else None,
                "ap50": mean_valid(acc.precision[0, :, k]) if has_gt else None,
                "ap_at_iou": mean_valid(acc.precision[t, :, k]) if has_gt else None,
                "pr_curve": (
                    {"recall": RECALL_THRESHOLDS.tolist(), "precision": acc.precision[t, :, k].tolist()}
                    if has_gt
                    else None
                ),
                **({"errors": class_errors[k]} if errors is not None else {}),
            }
        )
    tp, fp, fn = int(acc.tp[t, cmask].sum()), int(acc.fp[t, cmask].sum()), int(acc.fn[t, cmask].sum())

    def none_if_missing(x: float) -> float | None:
        return None if x == -1 else x

    valid_t = prec[t][:, prec[t].max(axis=0) > -1] if prec.shape[2] else prec[t]
    reply: dict[str, Any] = {
        "iou": float(m.thresholds[t]),
        "map": none_if_missing(mean_valid(coco)),
        "map50": none_if_missing(mean_valid(coco[0])),
        "map75": none_if_missing(mean_valid(coco[5])),
        "ap_at_iou": none_if_missing(mean_valid(prec[t])),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "pr_curve": {
            "recall": RECALL_THRESHOLDS.tolist(),
            "precision": valid_t.mean(axis=1).tolist() if valid_t.size else [],
        },
        "per_class": per_class,
    }
    if errors is not None:
        reply["errors"] = {
            name: sum(class_errors[k][name] for k in np.flatnonzero(cmask)) for name in (*PREDICTION_CATEGORIES, MISSED)
        }
        matrix = (
            errors.confusion
            if image_mask is None
            else _confusion(m, errors.cm_actual, errors.dt_in_matrix, errors.gt_in_matrix, K, image_mask)
        )
        labels = [names.get(int(c), str(int(c))) for c in m.categories[cmask]] + ["background"]
        keep = np.r_[cmask, True]
        reply["confusion"] = {
            "labels": labels,
            "category_ids": [int(c) for c in m.categories[cmask]] + [None],
            "matrix": matrix[np.ix_(keep, keep)].tolist(),
            "rows": "actual",
            "columns": "predicted",
        }
    return reply


def evaluate(
    gt: GroundTruth,
    dt: Predictions,
    iou: float = 0.5,
    *,
    images: Any,
    categories: Any = None,
    category_names: dict[int, str] | None = None,
) -> dict[str, Any]:
    """One call: match, accumulate, analyse errors and summarise (used by tests and the benchmark)."""
    m = match(gt, dt, thresholds_for(iou), categories=categories, images=images)
    acc = accumulate(m, gt, dt)
    errors = analyse(m, gt, dt, iou)
    return summarise(m, acc, iou, errors=errors, category_names=category_names)


# ------------------------------------------------------------------------------------ incremental update
@dataclass
class Patched:
    """The result of re-matching some images after their ground truth changed (see `rematch_images`)."""

    gt: GroundTruth
    m: Matching
    errors: ErrorAnalysis
    images: dict[str, np.ndarray]  # image_scores, updated at the re-matched images
    classes: np.ndarray  # category positions whose AP may have changed


def rematch_images(
    gt: GroundTruth,
    dt: Predictions,
    m: Matching,
    errors: ErrorAnalysis,
    per_image: dict[str, np.ndarray],
    images: np.ndarray,
    new_gt: GroundTruth,
) -> Patched:
    """Replace the ground truth of `images` by `new_gt` (their boxes as they are now) and re-match them only.

    Matching and error analysis are per image, so only these images' decisions change; predictions are not
    edited, so their order, ranks and the accumulation order stay valid. The images' old ground-truth rows
    stay where they are, retired (not evaluated), so every index held elsewhere stays right; the new boxes
    are appended (their order among themselves is all pycocotools' ties depend on). Work is proportional to
    the edited images, apart from appending to the ground-truth columns.

    `m` and `errors` are updated in place (the detection columns) and returned extended: the caller owns
    them and must not use the old objects again. The caller re-accumulates the returned `classes`.
    """
    images = np.unique(np.asarray(images, np.int64))
    K = len(m.categories)
    old = np.flatnonzero(np.isin(gt.image, images) & (m.gt_img >= 0))
    n_old = len(gt)
    d_sel = np.flatnonzero(np.isin(dt.image, images))
    sub_dt = Predictions(
        image=dt.image[d_sel],
        category=dt.category[d_sel],
        boxes=dt.boxes[d_sel],
        score=dt.score[d_sel],
        ids=None if dt.ids is None else dt.ids[d_sel],
    )
    sm = match(new_gt, sub_dt, m.thresholds, images=images, categories=m.categories)
    se = analyse(sm, new_gt, sub_dt, errors.threshold)
    sub_scores = image_scores(sm, new_gt, sub_dt, se)

    def gt_index(sub: np.ndarray) -> np.ndarray:  # sub-problem gt index -> extended index (-1 stays)
        return np.where(sub >= 0, sub + n_old, -1)

    def dt_index(sub: np.ndarray) -> np.ndarray:  # sub-problem dt index -> full index (-1 stays)
        if len(d_sel) == 0:
            return np.full(sub.shape, -1, np.int64)
        return np.where(sub >= 0, d_sel[np.maximum(sub, 0)], -1)

    touched = np.concatenate([m.gt_cat[old], sm.gt_cat, m.dt_cat[d_sel]])
    classes = np.unique(touched[touched >= 0])

    # confusion matrix and counts: take these images' old contributions out, put the new ones in
    confusion = errors.confusion.copy()
    d_in = d_sel[errors.dt_in_matrix[d_sel]]
    np.add.at(confusion, (np.where(errors.cm_actual[d_in] >= 0, errors.cm_actual[d_in], K), m.dt_cat[d_in]), -1)
    g_in = old[errors.gt_in_matrix[old]]
    np.add.at(confusion, (m.gt_cat[g_in], np.full(len(g_in), K)), -1)
    confusion += se.confusion
    counts = dict(errors.counts)
    for name in PREDICTION_CATEGORIES:
        counts[name] += se.counts[name] - int((errors.dt_code[d_sel] == _CAT_CODES[name]).sum())
    counts[MISSED] += se.counts[MISSED] - int(errors.gt_missed[old].sum())

    # detections: in place
    m.dt_match[d_sel] = gt_index(sm.dt_match)
    m.dt_iou[d_sel] = sm.dt_iou
    m.dt_ignore[d_sel] = sm.dt_ignore
    errors.dt_category[d_sel] = se.dt_category
    errors.dt_code[d_sel] = se.dt_code
    errors.dt_partner[d_sel] = gt_index(se.dt_partner)
    errors.dt_iou[d_sel] = se.dt_iou
    errors.cm_actual[d_sel] = se.cm_actual
    errors.dt_in_matrix[d_sel] = se.dt_in_matrix
    # old ground truth of these images: retired
    m.gt_img[old], m.gt_cat[old], m.gt_match[old] = -1, -1, -1
    errors.gt_missed[old], errors.gt_in_matrix[old], errors.gt_category[old] = False, False, None
    errors.gt_partner[old], errors.gt_confused_by[old] = -1, -1

    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a, b])

    extended = GroundTruth(
        image=cat(gt.image, new_gt.image),
        category=cat(gt.category, new_gt.category),
        boxes=np.concatenate([gt.boxes, new_gt.boxes]),
        iscrowd=cat(gt.iscrowd, new_gt.iscrowd),
        area=cat(gt.area, new_gt.area),
        ids=cat(gt.ids, new_gt.ids),
    )
    mm = replace(
        m,
        gt_img=cat(m.gt_img, _codes(new_gt.image, m.images)),
        gt_cat=cat(m.gt_cat, sm.gt_cat),
        gt_ignore=cat(m.gt_ignore, sm.gt_ignore),
        gt_match=np.concatenate([m.gt_match, dt_index(sm.gt_match)]),
    )
    ee = replace(
        errors,
        gt_missed=cat(errors.gt_missed, se.gt_missed),
        gt_category=cat(errors.gt_category, se.gt_category),
        gt_partner=cat(errors.gt_partner, dt_index(se.gt_partner)),
        gt_iou=cat(errors.gt_iou, se.gt_iou),
        gt_confused_by=cat(errors.gt_confused_by, dt_index(se.gt_confused_by)),
        cm_predicted_gt=cat(errors.cm_predicted_gt, se.cm_predicted_gt),
        gt_in_matrix=cat(errors.gt_in_matrix, se.gt_in_matrix),
        confusion=confusion,
        counts=counts,
    )
    pos = np.searchsorted(m.images, sm.images)
    scores = {}
    for key, values in per_image.items():
        scores[key] = values.copy()
        scores[key][pos] = sub_scores[key]
    return Patched(gt=extended, m=mm, errors=ee, images=scores, classes=classes)
