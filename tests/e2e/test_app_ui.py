"""The browser app in real Chromium against a real `datavisor serve`, on scikit-image photos with boxes.

One server for the module (starting one takes seconds on a loaded machine); the app is built first when
app/webui is missing or older than its sources, by the script `make ui` runs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image

from tests.e2e.app_photos import make_many
from tests.e2e.grid_boxes import drawn_boxes, hex_rgb, wait_drawn
from tests.support.browser import TIMEOUT, WATCH
from tests.support.datasets import import_dataset, make_coco
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "screenshots" / "grid.png"
README_SCREENSHOT = ROOT / "docs" / "grid.png"
MANY = 2000


@pytest.fixture(scope="module")
def ui_server(photos_server: Server) -> Server:
    """The shared photos server (tests/e2e/conftest.py), with files for the import test in its data root."""
    make_many(photos_server.state_dir / "datasets" / "many", MANY)
    return photos_server


@pytest.fixture
def app(page, ui_server):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.add_init_script(WATCH)
    page.set_default_timeout(TIMEOUT)
    yield page
    if not page.is_closed() and page.url.startswith("http"):
        errors += [f"CSP violation: {v}" for v in page.evaluate("window.__csp || []")]
    assert not errors, errors


def grid_url(server, dataset_id: int, query: str = "") -> str:
    return f"{server.url}/datasets/{dataset_id}" + (f"?{query}" if query else "")


def wait_total(page, text: str) -> None:
    page.wait_for_function(
        "t => document.querySelector('[data-testid=total]')?.textContent === t", arg=text, timeout=TIMEOUT
    )


def wait_thumbnails(page) -> None:
    """Every rendered thumbnail has loaded."""
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('.cell img')];"
        " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        timeout=TIMEOUT,
    )


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def test_import_with_live_progress_then_the_virtualised_grid(app, ui_server) -> None:
    page = app
    # sample the progress bar from inside the page, faster than a round trip per look
    page.add_init_script(
        """
        window.__progress = [];
        setInterval(() => {
          const bar = document.querySelector('[data-testid=job] progress');
          const state = document.querySelector('[data-testid=job]')?.dataset.state;
          if (bar) window.__progress.push([state, bar.hasAttribute('value') ? bar.value : null,
            document.querySelector('[data-testid=job-phase]')?.textContent]);
        }, 5);
        """
    )
    sample_requests: list[str] = []
    page.on(
        "request", lambda r: sample_requests.append(r.url) if re.search(r"/api/datasets/\d+/samples", r.url) else None
    )
    thumbnails: list[str] = []
    page.on("request", lambda r: thumbnails.append(r.url) if "/api/images/" in r.url else None)
    page.goto(ui_server.url + "/")
    page.get_by_label("Name").fill("many crops")
    # the path comes from the server-side file browser: the data root, its folder, the file
    page.get_by_role("button", name="Browse…").click()
    browser = page.get_by_test_id("file-browser")
    browser.get_by_role("button", name=str((ui_server.state_dir / "datasets").resolve())).click()
    browser.locator(".file.dir", has_text="many").click()
    browser.locator(".file.file", has_text="annotations.json").click()
    browser.wait_for(state="detached")
    picked = page.get_by_label("Path on the server").input_value()
    assert picked == str((ui_server.state_dir / "datasets" / "many" / "annotations.json").resolve())
    page.get_by_role("button", name="Import").click()
    job = page.locator("[data-testid=job]")
    job.and_(page.locator("[data-state=succeeded]")).wait_for(timeout=120_000)

    samples = page.evaluate("window.__progress")
    values = sorted({v for _, v, _ in samples if v is not None and 0 < v < 1})
    assert len(values) >= 2, f"the progress bar did not move: {samples[:5]} ... {samples[-5:]}"
    phases = {p for _, _, p in samples if p}
    assert any("reading image sizes" in p for p in phases), phases
    assert any(s == "succeeded" for s, _, _ in samples)

    page.get_by_role("link", name="Open dataset").click()
    wait_total(page, f"{MANY:,} samples")
    wait_thumbnails(page)
    assert page.evaluate("performance.getEntriesByName('grid-painted').length") == 1

    # virtualised: the DOM holds the rows in view plus overscan, never all 2,000 cells
    cells = page.locator(".cell").count()
    assert 0 < cells < 200, cells
    page.locator("[data-testid=grid]").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    page.locator(f".cell[data-index='{MANY - 1}']").wait_for()
    assert page.locator(".cell").count() < 200
    assert page.locator(".cell[data-index='0']").count() == 0  # the top rows left the DOM
    # thumbnails only for the rows that were on screen (plus overscan): the rows jumped over asked for none
    page.wait_for_timeout(300)  # a scroll's cells ask for theirs a frame or two later
    assert 0 < len(set(thumbnails)) < 200, len(set(thumbnails))
    # one request per page of 100 samples (boxes included), never one per cell
    pages = [u for u in sample_requests if "boxes=true" in u]
    assert pages and len(pages) == len(sample_requests), sample_requests
    offsets = [int(query_of(u)["offset"][0]) for u in pages]
    assert all(o % 100 == 0 for o in offsets) and len(offsets) <= MANY // 100, offsets


def test_boxes_are_drawn_where_the_annotations_say(app, ui_server) -> None:
    page = app
    page.goto(grid_url(ui_server, ui_server.photos_id))
    wait_total(page, "13 samples")
    wait_thumbnails(page)
    with ui_server.client() as client:
        first = client.get(f"/datasets/{ui_server.photos_id}/samples", params={"limit": 13}).json()["items"]
        truth = {s["id"]: client.get(f"/samples/{s['id']}").json() for s in first}
    wait_drawn(page, sum(1 for s in truth.values() for a in s["annotations"] if a["source"] == "ground_truth"))
    boxes = drawn_boxes(page)
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.cell[data-sample-id]')].map(cell => {
            const img = cell.querySelector('img').getBoundingClientRect();
            return {id: Number(cell.dataset.sampleId), img: [img.x, img.y, img.width, img.height]};
        })"""
    )
    for cell in drawn:
        cell["boxes"] = boxes.get(cell["id"], [])
    checked = 0
    for cell in drawn:
        sample = truth[cell["id"]]
        ix, iy, iw, ih = cell["img"]
        scale = min(iw / sample["width"], ih / sample["height"])
        ox, oy = ix + (iw - sample["width"] * scale) / 2, iy + (ih - sample["height"] * scale) / 2
        expected = {a["id"]: a for a in sample["annotations"] if a["source"] == "ground_truth"}
        assert {b["id"] for b in cell["boxes"]} == set(expected), sample["file_name"]  # predictions hidden by default
        for box in cell["boxes"]:
            x, y, w, h = expected[box["id"]]["bbox"]
            want = [ox + x * scale, oy + y * scale, w * scale, h * scale]
            assert box["rect"] == pytest.approx(want, abs=1.0), (sample["file_name"], box, want)
            assert box["category"] == expected[box["id"]]["category"]
            assert box["edge_alpha"] > 0, (sample["file_name"], box)  # really painted there
            checked += 1
    assert checked >= 15

    # one pixel check: the left edge of the astronaut's "person" box has the class colour on screen
    astronaut = next(c for c in drawn if truth[c["id"]]["file_name"] == "astronaut.jpg")
    person = next(b for b in astronaut["boxes"] if b["category"] == "person")
    colour = hex_rgb(person["colour"])
    x, y, _, h = person["rect"]
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    row = round(y + h * 0.7)  # clear of the flag box, whose bottom edge meets the middle
    edge = [shot.getpixel((round(x) + dx, row)) for dx in (-1, 0, 1)]
    best = min(edge, key=lambda p: sum(abs(a - b) for a, b in zip(p, colour, strict=True)))
    assert all(abs(a - b) <= 40 for a, b in zip(best, colour, strict=True)), (edge, colour)
    inside = shot.getpixel((round(x) + 12, row))
    assert sum(abs(a - b) for a, b in zip(inside, colour, strict=True)) > 60, (inside, colour)

    # predictions are dashed and have their own toggle; the README screenshot shows both
    page.get_by_role("checkbox", name="detector").check()
    page.wait_for_function("() => document.querySelectorAll('canvas.row-boxes[data-boxes*=detector]').length > 0")
    shown = [b for cell in drawn_boxes(page).values() for b in cell]
    assert any(b["source"] == "detector" for b in shown)
    assert all(b["dashed"] == (b["source"] != "ground_truth") for b in shown)
    assert "show=detector" in page.url
    wait_thumbnails(page)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    if os.environ.get("DATAVISOR_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)


def test_a_filter_lives_in_the_url_through_reload_and_history(app, ui_server) -> None:
    page = app
    page.goto(grid_url(ui_server, ui_server.photos_id))
    wait_total(page, "13 samples")
    page.locator("[data-testid=categories] [data-category=cup]").click()
    page.wait_for_url(re.compile(r"category=cup"))
    wait_total(page, "1 sample")
    assert page.locator(".cell .caption-name").all_inner_texts() == ["coffee.jpg"]
    page.wait_for_function("() => performance.getEntriesByName('grid-updated').length === 1")

    page.reload()
    wait_total(page, "1 sample")
    # the sidebar's counts come after the grid's first page (they wait for it): its button shows then
    page.locator("[data-category=cup][aria-pressed=true]").wait_for()
    assert page.locator(".cell").count() == 1

    page.go_back()
    page.wait_for_url(lambda url: "category" not in url)
    wait_total(page, "13 samples")
    page.go_forward()
    page.wait_for_url(re.compile(r"category=cup"))
    wait_total(page, "1 sample")

    # a saved view stores the filters and brings them back on a bare grid; it can be deleted
    page.get_by_label("view name").fill("cups only")
    page.get_by_role("button", name="Save", exact=True).click()
    saved = page.get_by_test_id("saved-views").get_by_role("button", name="cups only", exact=True)
    saved.wait_for()
    page.goto(grid_url(ui_server, ui_server.photos_id))
    wait_total(page, "13 samples")
    saved.click()
    page.wait_for_url(re.compile(r"category=cup"))
    wait_total(page, "1 sample")
    page.get_by_role("button", name="delete view cups only").click()
    saved.wait_for(state="detached")
    with ui_server.client() as client:
        assert client.get(f"/datasets/{ui_server.photos_id}/views").json() == []

    # a pasted link with several filters and a sort gives that view in a fresh page
    link = grid_url(ui_server, ui_server.photos_id, "min=2&sort=file_name&dir=desc")
    other = page.context.new_page()
    other.goto(link)
    wait_total(other, "5 samples")
    names = [t.split("\n")[0] for t in other.locator(".cell .caption-name").all_inner_texts()]
    assert names == sorted(names, reverse=True) and len(names) == 5, names
    assert other.get_by_label("sort by").input_value() == "file_name"
    other.close()


def test_tags_added_to_a_selection_survive_a_reload(app, ui_server) -> None:
    page = app
    page.goto(grid_url(ui_server, ui_server.photos_id))
    wait_total(page, "13 samples")
    page.locator(".cell[data-index='0']").click(modifiers=["Control"])
    page.locator(".cell[data-index='2']").click(modifiers=["Shift"])  # range 0..2
    assert page.get_by_test_id("selected-count").inner_text() == "3 selected"
    page.get_by_label("tag name").fill("reviewed")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_test_id("tag-result").wait_for()
    assert "3 samples" in page.get_by_test_id("tag-result").inner_text()

    page.reload()
    wait_total(page, "13 samples")
    page.locator("[data-testid=tags] [data-tag=reviewed]").wait_for()
    assert page.locator("[data-testid=tags] [data-tag=reviewed] .facet-count").inner_text() == "3"
    for index in (0, 1, 2):
        assert "reviewed" in page.locator(f".cell[data-index='{index}'] .cell-tags").inner_text()
    assert page.locator(".cell[data-index='3'] .cell-tags").filter(has_text="reviewed").count() == 0

    # everything matching a filter, loaded or not, through "select all"
    page.locator("[data-testid=categories] [data-category=person]").click()
    wait_total(page, "2 samples")
    page.locator(".cell[data-index='0'] .check").click()
    page.get_by_role("button", name=re.compile("Select all 2 matching")).click()
    assert page.get_by_test_id("selected-count").inner_text() == "2 selected"
    page.get_by_label("tag name").fill("people")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_test_id("tag-result").wait_for()
    with ui_server.client() as client:
        tagged = client.get(f"/datasets/{ui_server.photos_id}/samples", params={"tag": "people"}).json()
        assert sorted(i["file_name"] for i in tagged["items"]) == ["astronaut.jpg", "camera.jpg"]
        reviewed = client.get(f"/datasets/{ui_server.photos_id}/samples", params={"tag": "reviewed"}).json()
        assert reviewed["total"] == 3


def test_sample_view_keyboard_navigation_and_box_details(app, ui_server) -> None:
    page = app
    page.goto(grid_url(ui_server, ui_server.photos_id, "run=detector"))
    wait_total(page, "13 samples")
    page.locator(".cell[data-index='0']").click()
    view = page.get_by_test_id("sample-view")
    view.wait_for()
    assert query_of(page.url)["open"] == ["0"]
    page.wait_for_function("() => document.querySelector('[data-testid=sample-file]').textContent === 'astronaut.jpg'")
    assert page.get_by_test_id("sample-position").inner_text() == "1 / 13"

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=sample-file]').textContent === 'chelsea.jpg'")
    assert query_of(page.url)["open"] == ["1"]
    assert page.get_by_test_id("sample-position").inner_text() == "2 / 13"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=sample-file]').textContent === 'coffee.jpg'")

    # the detector found the cup (TP, matched to the ground truth) and missed the spoon (FN)
    cup = page.locator("[data-testid=box-list] .box-row", has_text="cup").first
    cup.hover()
    assert page.get_by_test_id("box-status").inner_text() == "TP"
    assert page.locator(".stage .boxes g.lit").count() == 2  # the box and its matched partner
    page.locator("[data-testid=box-list] .box-row", has_text="spoon").hover()
    assert page.get_by_test_id("box-status").inner_text() == "FN"

    page.reload()  # the open sample is part of the URL
    page.wait_for_function("() => document.querySelector('[data-testid=sample-file]')?.textContent === 'coffee.jpg'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('[data-testid=sample-file]').textContent === 'chelsea.jpg'")
    # Escape in a field leaves the field with its text; it does not close the view around it
    tag = page.get_by_label("add a tag")
    tag.fill("half-typed")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.getAttribute('aria-label') !== 'add a tag'")
    assert view.is_visible() and tag.input_value() == "half-typed"
    page.keyboard.press("Escape")
    view.wait_for(state="detached")
    assert "open" not in query_of(page.url)

    page.keyboard.press("?")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for(state="detached")


def test_a_bad_import_shows_the_servers_message(app, ui_server) -> None:
    page = app
    page.goto(ui_server.url + "/")
    # refused at once (outside the data roots): the reply's detail, verbatim
    with httpx.Client(base_url=ui_server.api) as client:
        refused = client.post("/datasets", json={"name": "etc", "format": "auto", "path": "/etc"})
    assert refused.status_code in (403, 422), refused.text
    page.get_by_label("Name").fill("etc")
    page.get_by_label("Path on the server").fill("/etc")
    page.get_by_role("button", name="Import").click()
    page.locator(".import-form .error-text").wait_for()
    assert page.locator(".import-form .error-text").inner_text() == refused.json()["detail"]

    # accepted, then failed in the job: the job's error, verbatim
    bad = ui_server.state_dir / "datasets" / "photos" / "predictions.json"  # a JSON array, not COCO
    page.get_by_label("Name").fill("not coco")
    page.get_by_label("Format").select_option("coco")
    page.get_by_label("Path on the server").fill(str(bad))
    with page.expect_response(lambda r: r.url.endswith("/api/datasets") and r.request.method == "POST") as started:
        page.get_by_role("button", name="Import").click()
    job_id = started.value.json()["job_id"]
    page.get_by_test_id("job-error").wait_for()
    with ui_server.client() as client:
        job = client.get(f"/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert page.get_by_test_id("job-error").inner_text() == job["error"]
    assert "not a valid COCO file" in job["error"]


def test_stale_links_say_what_is_wrong(app, ui_server) -> None:
    """Links that outlived what they point at (another dataset's sample, a position past the list's end, a deleted
    dataset, a run or threshold the controls do not list): a message, never a spinner or a control showing
    something else than the page is at."""
    page = app
    other = make_coco(ui_server.state_dir / "datasets" / "other", n_images=1)
    with ui_server.client() as client:
        job = import_dataset(client, "other", other, "coco")
        assert job["state"] == "succeeded", job
        foreign = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"][0]["id"]
    view = page.get_by_test_id("sample-view")
    # before: dataset 1's view showed (and edited) the other dataset's sample under dataset 1's name
    page.goto(grid_url(ui_server, ui_server.photos_id, f"sample={foreign}"))
    view.get_by_text(f"Sample {foreign} belongs to another dataset").wait_for()
    assert view.get_by_test_id("editor").count() == 0
    # before: the look-alikes of the other dataset's sample, as if they were this dataset's
    page.goto(f"{ui_server.url}/datasets/{ui_server.photos_id}/similar?sample={foreign}")
    page.get_by_text(f"Sample {foreign} belongs to another dataset").wait_for()
    # before: "No sample at this position" under a spinner that never ended, and "1,000 / 13"
    page.goto(grid_url(ui_server, ui_server.photos_id, "open=999"))
    view.get_by_text("No sample at this position").wait_for()
    assert view.get_by_role("status").count() == 0 and view.get_by_test_id("sample-position").count() == 0
    assert view.get_by_test_id("editor").count() == 0
    # before: each page's controls over "No embeddings yet" or an empty drop zone
    # (every page of a dataset goes through the one gate: the grid and the analysis views too)
    for name in ("map", "duplicates", "similar", "", "stats", "evaluation"):
        page.goto(f"{ui_server.url}/datasets/99999/{name}")
        page.get_by_text("Cannot open this dataset").wait_for()
        assert page.get_by_text("dataset 99999 not found").is_visible()
    # before: the selects showed 0.50 / the first run / "Import order" while the page was at what the URL says
    page.goto(f"{ui_server.url}/datasets/{ui_server.photos_id}/evaluation?run=detector&iou=0.33&vs=gone")
    page.get_by_text("Cannot evaluate gone").wait_for()
    assert page.get_by_test_id("iou").input_value() == "0.33"
    assert page.get_by_test_id("run-b").input_value() == "gone"
    page.goto(grid_url(ui_server, ui_server.photos_id, "run=gone&sort=bogus"))
    page.get_by_text("Cannot load the samples").wait_for()
    assert page.get_by_label("evaluation run").input_value() == "gone"
    assert page.get_by_label("sort by").input_value() == "bogus"


def test_a_long_tag_keeps_its_buttons_in_view(app, ui_server) -> None:
    """A 200-character tag (the longest the app takes) is cut inside its row; before, it pushed the sample
    view's remove ✕ and the sidebar's hide ⊘ out of their panels, so the tag could not be removed there."""
    page = app
    tag = "long-" + "x" * 195
    annotations = make_coco(ui_server.state_dir / "datasets" / "long-tag", n_images=1)
    with ui_server.client() as client:
        job = import_dataset(client, "long tag", annotations, "coco")
        assert job["state"] == "succeeded", job
        dataset_id = job["dataset_id"]
        sid = client.get(f"/datasets/{dataset_id}/samples").json()["items"][0]["id"]
        assert client.post(f"/datasets/{dataset_id}/tags", json={"sample_ids": [sid], "add": [tag]}).status_code == 200

    def inside(button: str, panel: str) -> bool:
        return page.evaluate(
            "([b, p]) => { const r = document.querySelector(b).getBoundingClientRect(),"
            " q = document.querySelector(p).getBoundingClientRect(); return r.left >= q.left && r.right <= q.right; }",
            [button, panel],
        )

    page.goto(grid_url(ui_server, dataset_id, "open=0"))
    remove = page.get_by_role("button", name=f"remove tag {tag}")
    remove.wait_for()
    page.locator(f"[data-testid=tags] [data-hide-tag='{tag}']").wait_for()
    assert inside(f"[data-hide-tag='{tag}']", ".sidebar"), "the sidebar's ⊘ left the sidebar"
    assert inside(".sample-side .chip-x", ".sample-side"), "the tag's ✕ left the sample view's panel"
    remove.click()
    page.get_by_test_id("sample-tags").get_by_text("no tags").wait_for()
