"""The statistics and evaluation views in real Chromium against a real `datavisor serve`: one server and
one dataset (the scikit-image photos with two prediction runs) for the module.

A click on a confusion-matrix cell must show exactly the samples the confusion-cell API lists, with exactly
its boxes lit; an error category the samples of that error; a class bar must filter the grid through the URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.app_build import ensure_built
from tests.e2e.app_photos import make_photos
from tests.e2e.grid_boxes import drawn_boxes, wait_drawn
from tests.support.browser import TIMEOUT, WATCH
from tests.support.datasets import import_dataset, wait_job
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "screenshots" / "evaluation.png"
README_SCREENSHOT = ROOT / "docs" / "evaluation.png"


def second_run(coco: dict) -> list[dict]:
    """A better detector: finds every box (shifted a little more on odd ids), plus one class confusion."""
    out = []
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        shift = 0.04 * w if a["id"] % 2 else 0.0
        out.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": [x + shift, y, w, h],
                "score": 0.5 + 0.4 * ((a["id"] * 7) % 10) / 10,
            }
        )
    first = coco["annotations"][0]
    other = next(c["id"] for c in coco["categories"] if c["id"] != first["category_id"])
    out.append({"image_id": first["image_id"], "category_id": other, "bbox": first["bbox"], "score": 0.55})
    return out


@pytest.fixture(scope="module")
def analysis_server(tmp_path_factory: pytest.TempPathFactory):
    ensure_built()
    state = tmp_path_factory.mktemp("app-analysis")
    root = state / "datasets" / "photos"
    coco = make_photos(root)
    (root / "predictions_v2.json").write_text(json.dumps(second_run(coco)))
    server = Server(state)
    with server, server.client() as client:
        job = import_dataset(client, "photos", root / "annotations.json", "coco")
        assert job["state"] == "succeeded", job
        ds = job["dataset_id"]
        for run, name in (("detector", "predictions.json"), ("detector-v2", "predictions_v2.json")):
            started = client.post(
                f"/datasets/{ds}/predictions", json={"run": run, "format": "coco_results", "path": str(root / name)}
            )
            assert started.status_code == 202, started.text
            assert wait_job(client, started.json()["job_id"])["state"] == "succeeded"
        server.ds = ds  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def app(page, analysis_server):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.add_init_script(WATCH)
    page.set_default_timeout(TIMEOUT)
    yield page
    if not page.is_closed() and page.url.startswith("http"):
        errors += [f"CSP violation: {v}" for v in page.evaluate("window.__csp || []")]
    assert not errors, errors


def grid_state(page) -> tuple[list[int], list[int]]:
    """The sample ids in the grid, and the ids of the boxes drawn lit."""
    ids = page.eval_on_selector_all(".cell[data-sample-id]", "els => els.map(e => Number(e.dataset.sampleId))")
    lit = [b["id"] for boxes in drawn_boxes(page).values() for b in boxes if b["lit"]]
    return sorted(ids), sorted(lit)


def wait_grid(page, n: int, lit: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.cell[data-sample-id]').length === n", arg=n, timeout=TIMEOUT
    )
    wait_drawn(page, lit, lit=True, timeout=TIMEOUT)


def test_a_confusion_cell_and_an_error_category_open_exactly_their_samples(app, analysis_server) -> None:
    page, server, ds = app, analysis_server, analysis_server.ds
    with server.client() as client:
        reply = client.get(f"/datasets/{ds}/evaluation", params={"run": "detector"}).json()
        cell = client.get(
            f"/datasets/{ds}/evaluation/confusion",
            params={"run": "detector", "actual": "background", "predicted": "camera"},
        ).json()
        missed = client.get(
            f"/datasets/{ds}/samples", params={"eval_run": "detector", "eval_error": "missed", "limit": 500}
        ).json()
    assert cell["total"] >= 2  # coffee and camera hold a confident false positive each
    page.goto(f"{server.url}/datasets/{ds}/evaluation?run=detector")
    target = page.locator("[data-testid=confusion] rect[data-actual=background][data-predicted=camera]")
    labels = reply["confusion"]["labels"]
    assert int(target.get_attribute("data-count")) == reply["confusion"]["matrix"][-1][labels.index("camera")]
    target.click()
    page.wait_for_url(re.compile(rf"/datasets/{ds}\?.*actual=background&predicted=camera"))
    assert "run=detector" in page.url and "show=detector" in page.url
    lit_ids = sorted(i for s in cell["samples"] for i in s["annotation_ids"])
    wait_grid(page, cell["total"], len(lit_ids))
    ids, lit = grid_state(page)
    assert ids == sorted(s["sample_id"] for s in cell["samples"])
    assert lit == lit_ids
    assert page.get_by_test_id("total").text_content() == f"{cell['total']} samples"
    assert "camera" in page.get_by_test_id("eval-filter").text_content()

    # an error category: the samples holding a missed box, those boxes lit (ground truth, solid)
    page.go_back()
    page.locator("[data-testid=errors] [data-error=missed]").click()
    page.wait_for_url(re.compile(r"error=missed"))
    wait_grid(page, missed["total"], reply["errors"]["missed"])
    ids, lit = grid_state(page)
    assert ids == sorted(s["id"] for s in missed["items"])
    lit_boxes = [b for boxes in drawn_boxes(page).values() for b in boxes if b["lit"]]
    assert len(lit_boxes) == reply["errors"]["missed"] and all(b["source"] == "ground_truth" for b in lit_boxes)


def test_a_class_bar_filters_the_grid_and_changes_the_url(app, analysis_server) -> None:
    page, server, ds = app, analysis_server, analysis_server.ds
    with server.client() as client:
        filtered = client.get(f"/datasets/{ds}/statistics", params={"min_annotations": 2}).json()
        person = client.get(f"/datasets/{ds}/samples", params={"category": "person"}).json()
    # the statistics follow the grid's filters (here: at least two boxes)
    page.goto(f"{server.url}/datasets/{ds}/stats?min=2")
    page.get_by_test_id("stats-samples").filter(has_text=str(filtered["totals"]["samples"])).wait_for()
    bars = page.locator("[data-testid=class-bars] .bar-row")
    assert bars.count() == filtered["totals"]["categories"]
    page.goto(f"{server.url}/datasets/{ds}/stats")
    page.locator("[data-testid=class-bars] [data-key=person]").click()
    page.wait_for_url(re.compile(rf"/datasets/{ds}\?category=person$"))
    page.wait_for_function(
        "t => document.querySelector('[data-testid=total]')?.textContent === t",
        arg=f"{person['total']} samples",
        timeout=TIMEOUT,
    )
    ids, _ = grid_state(page)
    assert ids == sorted(s["id"] for s in person["items"])
    assert page.locator("[data-testid=categories] [data-category=person]").get_attribute("class").count("active")


def test_two_runs_side_by_side_and_the_screenshot(app, analysis_server) -> None:
    page, server, ds = app, analysis_server, analysis_server.ds
    with server.client() as client:
        a = client.get(f"/datasets/{ds}/evaluation", params={"run": "detector", "iou": 0.75}).json()
        b = client.get(f"/datasets/{ds}/evaluation", params={"run": "detector-v2", "iou": 0.75}).json()
        t = client.get(f"/datasets/{ds}/evaluation/thresholds", params={"run": "detector", "iou": 0.75}).json()
    page.set_viewport_size({"width": 1400, "height": 1300})
    page.goto(f"{server.url}/datasets/{ds}/evaluation?run=detector&iou=0.75")
    page.get_by_test_id("run-b").select_option("detector-v2")
    metrics = page.get_by_test_id("metrics")
    metrics.locator("th", has_text="detector-v2").wait_for()
    table = [r.locator("td").all_text_contents() for r in metrics.locator("tbody tr").all()]
    rows = {cells[0]: cells[1:] for cells in table}
    assert rows["mAP@[.5:.95]"] == [f"{a['map']:.3f}", f"{b['map']:.3f}"]
    assert rows["FN"] == [str(a["fn"]), str(b["fn"])]
    # precision at the score threshold: the slider's value against the thresholds reply
    page.get_by_test_id("score").fill("0.7")
    k = t["score"].index(0.7)
    page.get_by_test_id("precision-detector").filter(has_text=f"{t['precision'][k]:.3f}").wait_for()
    # the per-class table sorts by a clicked column
    page.locator("[data-testid=class-table] th button", has_text="GT").click()
    gts = [int(v) for v in page.locator("[data-testid=class-table] tbody tr td:nth-child(2)").all_text_contents()]
    assert gts == sorted(gts, reverse=True) and len(gts) == len(a["per_class"])
    page.get_by_test_id("score").fill("0.5")
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('.worst-strip img')];"
        " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        timeout=TIMEOUT,
    )
    page.locator("[data-testid=categories] li").first.wait_for(timeout=TIMEOUT)  # the sidebar's facets, not a spinner
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    if os.environ.get("DATAVISOR_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)
