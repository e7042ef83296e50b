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

from tests.e2e.app_build import ensure_built
from tests.e2e.app_photos import make_many, make_photos
from tests.support.browser import TIMEOUT
from tests.support.datasets import import_dataset, wait_job
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "screenshots" / "map.png"
README_SCREENSHOT = ROOT / "docs" / "map.png"
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
    # the crumbs name the dataset once its reply is in: the screenshot waits for it (it showed a placeholder)
    page.get_by_test_id("dataset-name").filter(has_text="photos").wait_for()
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


@pytest.fixture(scope="module")
def dups(map_server):
    """A second dataset on the same server: every photo twice (the copy imported second), embedded."""
    root = map_server.state_dir / "datasets" / "dups"
    make_photos(root, copies=2)
    with map_server.client() as client:
        job = import_dataset(client, "dups", root / "annotations.json", "coco")
        assert job["state"] == "succeeded", job
        d = job["dataset_id"]
        embedded = client.post(f"/datasets/{d}/embeddings")
        assert wait_job(client, embedded.json()["job_id"], timeout=300)["state"] == "succeeded"
    return d


def test_the_duplicates_action_tags_all_but_one_per_group_and_the_exclude_filter_hides_them(page, map_server, dups):
    page.set_default_timeout(TIMEOUT)
    d = dups
    with map_server.client() as client:
        groups = client.get(f"/datasets/{d}/duplicates").json()["groups"]
        names = {
            s["id"]: s["file_name"] for s in client.get(f"/datasets/{d}/samples", params={"limit": 500}).json()["items"]
        }
    assert len(groups) == 13 and all(g["size"] == 2 for g in groups)
    page.goto(f"{map_server.url}/datasets/{d}")
    page.get_by_test_id("nav-duplicates").click()
    page.wait_for_url(re.compile(rf"/datasets/{d}/duplicates$"))
    page.locator("[data-testid=dup-group]").first.wait_for()
    assert page.get_by_test_id("dataset-name").inner_text() == "dups"
    assert page.get_by_test_id("dup-summary").get_attribute("data-groups") == "13"
    # the original (imported first, same size) is kept; the user keeps the copy of the first group instead
    first = page.locator("[data-testid=dup-group]").first
    default_kept = int(first.get_attribute("data-kept"))
    assert not names[default_kept].endswith("_1.jpg")
    first.get_by_test_id("dup-keep").click()
    chosen = int(first.get_attribute("data-kept"))
    assert chosen != default_kept and names[chosen].endswith("_1.jpg")
    page.get_by_test_id("dup-tag").click()
    page.get_by_test_id("dup-result").wait_for()

    expected_kept = {g["kept"] for g in groups} - {default_kept} | {chosen}
    with map_server.client() as client:
        tagged = client.get(f"/datasets/{d}/samples", params={"tag": "duplicate", "limit": 500}).json()["items"]
    assert {s["id"] for s in tagged} == set(names) - expected_kept
    for g in groups:  # exactly one member of every group is left untagged
        assert len(set(g["sample_ids"]) - {s["id"] for s in tagged}) == 1

    # it survives a reload: the page reads the tags back from the server
    page.reload()
    page.locator("[data-testid=dup-group]").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('.dup-member[data-tagged=\"1\"]').length === 13")
    assert int(page.locator("[data-testid=dup-group]").first.get_attribute("data-kept")) == chosen  # it stands
    assert page.locator(f".dup-member[data-sample-id='{chosen}']").get_attribute("data-tagged") == "0"

    # the grid without duplicates: exactly the kept ones, the exclusion in the URL and the sidebar
    page.get_by_test_id("dup-tag").click()
    page.get_by_test_id("dup-result").wait_for()
    page.get_by_test_id("dup-open-without").click()
    page.wait_for_url(re.compile(r"[?&]xtag=duplicate"))
    page.wait_for_function("() => document.querySelector('[data-testid=total]')?.textContent === '13 samples'")
    page.locator("[data-excluded-tag=duplicate]").wait_for()
    shown = sorted(page.locator(".cell .caption-name").all_inner_texts())
    with map_server.client() as client:
        kept = client.get(f"/datasets/{d}/samples", params={"exclude_tag": "duplicate", "limit": 500}).json()["items"]
    assert shown == sorted(s["file_name"] for s in kept) and len(kept) == 13


def test_query_by_image_finds_the_original_first(page, map_server, tmp_path) -> None:
    page.set_default_timeout(TIMEOUT)
    d = map_server.dataset_id
    with map_server.client() as client:
        items = client.get(f"/datasets/{d}/samples", params={"limit": 500}).json()["items"]
    original = next(s for s in items if s["file_name"] == "chelsea.jpg")
    probe = tmp_path / "cat-small.png"
    from PIL import Image

    with Image.open(map_server.state_dir / "datasets" / "photos" / "images" / "chelsea.jpg") as image:
        image.resize((image.width * 3 // 5, image.height * 3 // 5)).save(probe)
    page.goto(f"{map_server.url}/datasets/{d}")
    page.get_by_test_id("nav-similar").click()
    page.wait_for_url(re.compile(rf"/datasets/{d}/similar$"))
    page.get_by_test_id("similar-file").set_input_files(str(probe))
    hits = page.locator("[data-testid=similar-hits] li")
    hits.first.wait_for()
    assert int(hits.first.get_attribute("data-sample-id")) == original["id"]

    # "find similar" from the grid: one selected sample, its look-alikes (itself excluded)
    page.goto(f"{map_server.url}/datasets/{d}")
    page.locator(f".cell[data-sample-id='{original['id']}'] .check").click()
    page.get_by_test_id("grid-find-similar").click()
    expect_look_alikes_of(page, d, original["id"])


def expect_look_alikes_of(page, dataset_id: int, sample_id: int) -> None:
    """The look-alikes page of one sample opened: its hits are listed, the sample itself is not among them."""
    page.wait_for_url(re.compile(rf"/datasets/{dataset_id}/similar\?sample={sample_id}$"))
    page.locator("[data-testid=similar-hits] li").first.wait_for()
    assert page.locator(f"[data-testid=similar-hits] li[data-sample-id='{sample_id}']").count() == 0


def test_the_sample_view_strips_its_look_alikes_and_finds_more(page, map_server) -> None:
    page.set_default_timeout(TIMEOUT)
    d = map_server.dataset_id
    with map_server.client() as client:
        first = client.get(f"/datasets/{d}/samples", params={"limit": 1}).json()["items"][0]
        hits = client.get(f"/samples/{first['id']}/similar", params={"k": 12}).json()
    assert hits and first["id"] not in [h["sample_id"] for h in hits]
    page.goto(f"{map_server.url}/datasets/{d}?open=0")
    strip = page.get_by_test_id("similar")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=similar] .similar-item img').length === n", arg=len(hits)
    )
    shown = [
        int(re.search(r"/images/(\d+)", src).group(1))
        for src in strip.locator(".similar-item img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    ]
    assert shown == [h["sample_id"] for h in hits]  # the API's look-alikes, best first
    # a look-alike opens in the sample view
    strip.locator(".similar-item").first.click()
    page.wait_for_url(re.compile(rf"[?&]sample={hits[0]['sample_id']}(&|$)"))
    with map_server.client() as client:
        name = client.get(f"/samples/{hits[0]['sample_id']}").json()["file_name"]
    page.get_by_test_id("sample-file").filter(has_text=name).wait_for()
    # "more…": the look-alikes page of the sample shown
    page.get_by_test_id("find-similar").click()
    expect_look_alikes_of(page, d, hits[0]["sample_id"])


def test_the_map_starts_and_cancels_the_embedding_run_then_computes_t_sne(page, map_server) -> None:
    """The job controls of the map: start with live progress, cancel (finished vectors kept), continue, t-SNE."""
    page.set_default_timeout(TIMEOUT)
    n = 400
    root = map_server.state_dir / "datasets" / "crops"
    with map_server.client() as client:
        job = import_dataset(client, "crops", make_many(root, n), "coco")
        assert job["state"] == "succeeded", job
    d = job["dataset_id"]
    page.goto(f"{map_server.url}/datasets/{d}/map")
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/datasets/{d}/embeddings") and r.request.method == "POST"
    ) as started:
        page.get_by_test_id("map-embed").filter(has_text="Compute embeddings").click()
    job_id = started.value.json()["job_id"]
    running = page.locator("[data-testid=map-job][data-state=running]")
    running.wait_for()
    # the bar moves: some vectors are done, not all
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-testid=map-job] progress');"
        " return b && b.hasAttribute('value') && b.value > 0 && b.value < 1; }",
        timeout=TIMEOUT,
    )
    page.get_by_test_id("map-cancel").click()
    running.wait_for(state="detached")
    with map_server.client() as client:
        status = client.get(f"/datasets/{d}/embeddings").json()
        assert client.get(f"/jobs/{job_id}").json()["state"] == "cancelled"
    assert status["jobs"] == [], status
    assert sum(m["vectors"] for m in status["models"]) < n, status  # stopped before the end

    # "Embed new samples" continues; the map then shows every sample
    page.get_by_test_id("map-embed").click()
    canvas = page.get_by_test_id("map-canvas")
    page.wait_for_function(
        "n => document.querySelector('[data-testid=map-canvas]')?.dataset.points === String(n)", arg=n, timeout=300_000
    )

    # t-SNE as a job from the map, then drawn
    page.get_by_test_id("map-method").select_option("tsne")
    page.get_by_test_id("map-tsne").click()
    page.locator("[data-testid=map-job]").wait_for()
    page.locator("[data-testid=map-job]").wait_for(state="detached", timeout=300_000)
    page.wait_for_function(
        "n => document.querySelector('[data-testid=map-canvas]')?.dataset.points === String(n)", arg=n, timeout=TIMEOUT
    )
    with map_server.client() as client:
        tsne = client.get(f"/datasets/{d}/projection", params={"method": "tsne"}).json()
    assert tsne["method"] == "tsne" and len(tsne["ids"]) == n
    assert canvas.get_attribute("data-points") == str(n)
