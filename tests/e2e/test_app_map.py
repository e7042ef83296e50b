"""The embeddings map in real Chromium: one server, one small photo dataset embedded once (module-scoped).

A lasso drawn on the canvas must select exactly the samples whose API coordinates lie inside the drawn
polygon, and the grid, its facets and a tag action must then act on exactly that stored selection.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.datasets_fixtures import import_dataset, wait_job
from tests.e2e.app_build import ensure_built
from tests.e2e.app_photos import make_photos
from tests.server import Server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "screenshots" / "map.png"
README_SCREENSHOT = ROOT / "docs" / "map.png"
TIMEOUT = 60_000
VERTICES = 24


@pytest.fixture(scope="module")
def map_server(tmp_path_factory: pytest.TempPathFactory):
    ensure_built()
    state = tmp_path_factory.mktemp("app-map")
    make_photos(state / "datasets" / "photos")
    server = Server(state)
    with server, server.client() as client:
        job = import_dataset(client, "photos", state / "datasets" / "photos" / "annotations.json", "coco")
        assert job["state"] == "succeeded", job
        dataset_id = job["dataset_id"]
        embedded = client.post(f"/datasets/{dataset_id}/embeddings")
        assert wait_job(client, embedded.json()["job_id"], timeout=300)["state"] == "succeeded"
        server.dataset_id = dataset_id  # type: ignore[attr-defined]
        yield server


def inside(polygon: list[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd rule, as the app's lasso."""
    result = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            result = not result
        j = i
    return result


def test_a_lasso_selects_exactly_the_points_inside_and_the_grid_facets_and_tags_follow(page, map_server) -> None:
    page.set_default_timeout(TIMEOUT)
    d = map_server.dataset_id
    with map_server.client() as client:
        proj = client.get(f"/datasets/{d}/projection").json()
        names = {
            s["id"]: s["file_name"] for s in client.get(f"/datasets/{d}/samples", params={"limit": 500}).json()["items"]
        }
    assert len(proj["ids"]) == len(names) == 13

    page.goto(f"{map_server.url}/datasets/{d}")
    page.get_by_test_id("nav-map").click()
    page.wait_for_url(re.compile(rf"/datasets/{d}/map$"))
    canvas = page.get_by_test_id("map-canvas")
    page.wait_for_function("() => document.querySelector('[data-testid=map-canvas]')?.dataset.painted === '1'")
    assert canvas.get_attribute("data-points") == "13"
    box = canvas.bounding_box()
    scale, tx, ty = (float(canvas.get_attribute(f"data-{k}")) for k in ("scale", "tx", "ty"))
    screen = {
        sid: (box["x"] + x * scale + tx, box["y"] + ty - y * scale)
        for sid, x, y in zip(proj["ids"], proj["x"], proj["y"], strict=True)
    }

    # hovering a point shows its thumbnail
    some = proj["ids"][0]
    page.mouse.move(*screen[some])
    page.locator(f"[data-testid=map-hover][data-sample-id='{some}'] img").wait_for()

    # a circle around the point with the most neighbours close by, its radius in a gap between points
    # (no point within 4 px of the line, so rounding cannot decide membership)
    def around(sid: int) -> list[float]:
        return sorted(math.dist(screen[sid], screen[o]) for o in screen if o != sid)

    centre = max(screen, key=lambda sid: sum(1 for r in around(sid)[:4] if r < 150))
    dists = [0.0, *around(centre)]
    gaps = [(dists[k + 1] - dists[k], k) for k in range(1, min(8, len(dists) - 1))]
    gap, k = max(gaps)
    assert gap > 8, f"no clear cluster around {names[centre]}: {dists}"
    radius = (dists[k] + dists[k + 1]) / 2
    cx, cy = screen[centre]
    polygon = [
        (cx + radius * math.cos(2 * math.pi * i / VERTICES), cy + radius * math.sin(2 * math.pi * i / VERTICES))
        for i in range(VERTICES)
    ]
    expected = sorted(sid for sid, (x, y) in screen.items() if inside(polygon, x, y))
    assert 2 <= len(expected) < 13, expected

    page.get_by_test_id("map-tool-lasso").click()
    page.mouse.move(*polygon[0])
    page.mouse.down()
    for vertex in polygon[1:]:
        page.mouse.move(*vertex)
    page.mouse.up()
    selection = page.get_by_test_id("map-selection")
    selection.wait_for()
    assert selection.get_attribute("data-count") == str(len(expected))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    if os.environ.get("DATAVISOR_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)

    # the grid opens on exactly the stored selection
    page.get_by_test_id("map-open-grid").click()
    page.wait_for_url(re.compile(r"[?&]sel=\d+"))
    selection_id = int(re.search(r"sel=(\d+)", page.url).group(1))
    with map_server.client() as client:
        stored = client.get(f"/datasets/{d}/selections/{selection_id}").json()
        facets = client.get(f"/datasets/{d}/facets", params={"selection": selection_id}).json()
    assert stored["sample_ids"] == expected
    total = f"{len(expected)} samples"
    page.wait_for_function("t => document.querySelector('[data-testid=total]')?.textContent === t", arg=total)
    page.wait_for_function("n => document.querySelectorAll('.cell .caption-name').length === n", arg=len(expected))
    assert sorted(page.locator(".cell .caption-name").all_inner_texts()) == sorted(names[s] for s in expected)
    # the sidebar's facets count the selection only
    for category in facets["categories"]:
        facet = page.locator(f"[data-testid=categories] [data-category='{category['value']}'] .facet-count")
        assert facet.inner_text() == str(category["samples"]), category
    assert page.locator("[data-testid=categories] [data-category]").count() == len(facets["categories"])

    # a tag on "all matching" lands on exactly the selection
    page.locator(".cell[data-index='0'] .check").click()
    page.get_by_role("button", name=re.compile(f"Select all {len(expected)} matching")).click()
    page.get_by_label("tag name").fill("lasso")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_test_id("tag-result").wait_for()
    with map_server.client() as client:
        tagged = client.get(f"/datasets/{d}/samples", params={"tag": "lasso", "limit": 500}).json()["items"]
    assert sorted(s["id"] for s in tagged) == expected
