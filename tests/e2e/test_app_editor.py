"""The box editor of the sample view in real Chromium against a real `datavisor serve` (issue 16's App part).

One server and one photo dataset with a prediction run for the module; each test edits its own photo, in
file order, so the dataset-wide undo of one test only ever meets that test's own edit.
"""

from __future__ import annotations

import json

import pytest

from tests.support.browser import TIMEOUT
from tests.support.server import Server


@pytest.fixture(scope="module")
def editor_server(photos_server: Server) -> Server:
    return photos_server  # tests/e2e/conftest.py: the photos and their `detector` run


@pytest.fixture
def editor(page, editor_server):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.set_default_timeout(TIMEOUT)
    yield page
    assert not errors, errors


def open_sample(page, server, file_name: str) -> int:
    sid = server.ids[file_name]
    page.goto(f"{server.url}/datasets/{server.photos_id}?sample={sid}")
    page.wait_for_function(
        "f => document.querySelector('[data-testid=sample-file]')?.textContent === f", arg=file_name, timeout=TIMEOUT
    )
    page.wait_for_function("() => document.querySelector('.stage-img')?.complete", timeout=TIMEOUT)
    return sid


def sample(server, sid: int) -> dict:
    with server.client() as client:
        reply = client.get(f"/samples/{sid}")
        assert reply.status_code == 200, reply.text
        return reply.json()


def gt(server, sid: int) -> list[dict]:
    return [a for a in sample(server, sid)["annotations"] if a["source"] == "ground_truth"]


def select_box(page, box_id: int) -> None:
    page.locator(f"[data-testid=box-list] .box-row[data-box-id='{box_id}']").click()
    page.get_by_test_id("edit-box").wait_for()


def frame(page, width: int, height: int) -> tuple[float, float, float]:
    """(left, top, CSS pixels per image pixel) of the image inside the letterboxed edit layer."""
    r = page.get_by_test_id("edit-layer").bounding_box()
    scale = min(r["width"] / width, r["height"] / height)
    return r["x"] + (r["width"] - width * scale) / 2, r["y"] + (r["height"] - height * scale) / 2, scale


def drag(page, x: float, y: float, dx: float, dy: float) -> None:
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=3)
    page.mouse.move(x + dx, y + dy, steps=3)
    page.mouse.up()


def is_patch(response) -> bool:
    return "/api/annotations/" in response.url and response.request.method == "PATCH"


def bbox_shown(page, bbox: list[float]) -> None:
    """The edit layer shows `bbox` (the stored box, once the edit's refetch is in)."""
    page.wait_for_function(
        "b => { const e = document.querySelector('[data-testid=edit-box]');"
        " return e && e.dataset.bbox.split(',').map(Number).every((v, i) => Math.abs(v - b[i]) < 0.01); }",
        arg=bbox,
        timeout=TIMEOUT,
    )


def test_dragging_a_corner_stores_the_drag_and_undo_restores_it(editor, editor_server) -> None:
    page = editor
    sid = open_sample(page, editor_server, "astronaut.jpg")
    info = sample(editor_server, sid)
    person = next(a for a in gt(editor_server, sid) if a["category"] == "person")
    select_box(page, person["id"])
    left, top, scale = frame(page, info["width"], info["height"])
    x, y, w, h = person["bbox"]
    # the bottom-right corner, dragged up-left by (-60, -45) screen pixels
    with page.expect_response(is_patch) as response:
        drag(page, left + (x + w) * scale, top + (y + h) * scale, -60, -45)
    assert response.value.status == 200, response.value.text()
    stored = next(a for a in gt(editor_server, sid) if a["id"] == person["id"])
    want = [x, y, w - 60 / scale, h - 45 / scale]
    one_px = 1 / scale  # one screen pixel, in the image's pixels
    assert stored["bbox"] == pytest.approx(want, abs=one_px), (stored["bbox"], want, scale)
    assert stored["version"] == person["version"] + 1
    bbox_shown(page, stored["bbox"])

    # Ctrl+Z goes through the backend's undo: the stored box is the one before the drag again
    with page.expect_response(lambda r: r.url.endswith(f"/datasets/{editor_server.photos_id}/undo")) as undo:
        page.keyboard.press("Control+z")
    assert undo.value.status == 200, undo.value.text()
    restored = next(a for a in gt(editor_server, sid) if a["id"] == person["id"])
    assert restored["bbox"] == pytest.approx(person["bbox"], abs=1e-6)
    bbox_shown(page, person["bbox"])
    history = page.get_by_test_id("sample-history")
    history.locator("li[data-action=update][data-state=undone]").wait_for()
    # and Ctrl+Shift+Z brings the drag back
    with page.expect_response(lambda r: r.url.endswith(f"/datasets/{editor_server.photos_id}/redo")) as redo:
        page.keyboard.press("Control+Shift+z")
    assert redo.value.status == 200, redo.value.text()
    bbox_shown(page, stored["bbox"])


def test_a_second_editor_of_the_same_box_gets_the_conflict_and_the_first_edit_stays(browser, editor_server) -> None:
    first, second = (browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2))
    try:
        a, b = first.new_page(), second.new_page()
        for p in (a, b):
            p.set_default_timeout(TIMEOUT)
        sid = open_sample(a, editor_server, "chelsea.jpg")
        open_sample(b, editor_server, "chelsea.jpg")
        info = sample(editor_server, sid)
        cat = gt(editor_server, sid)[0]
        x, y, w, h = cat["bbox"]
        for p in (a, b):
            select_box(p, cat["id"])

        def move(p, dx: float, dy: float):
            left, top, scale = frame(p, info["width"], info["height"])
            with p.expect_response(is_patch) as response:
                drag(p, left + (x + w / 2) * scale, top + (y + h / 2) * scale, dx, dy)
            return response.value, scale

        done, scale = move(a, -20, -10)
        assert done.status == 200, done.text()
        kept = next(box for box in gt(editor_server, sid) if box["id"] == cat["id"])
        assert kept["bbox"] == pytest.approx([x - 20 / scale, y - 10 / scale, w, h], abs=1 / scale)

        refused, _ = move(b, 15, 15)  # b still holds the version it loaded
        assert refused.status == 409, refused.text()
        conflict = b.get_by_test_id("edit-conflict")
        conflict.wait_for()
        assert "Changed by someone else" in conflict.inner_text()
        assert f"current version is {kept['version']}" in conflict.inner_text()  # the server's message, verbatim
        now = next(box for box in gt(editor_server, sid) if box["id"] == cat["id"])
        assert (now["bbox"], now["version"], now["category"]) == (kept["bbox"], kept["version"], kept["category"])

        conflict.get_by_role("button", name="Reload (discard my change)").click()
        conflict.wait_for(state="detached")
        bbox_shown(b, kept["bbox"])  # b now shows a's box, its own change dropped in plain sight

        # deleted elsewhere, then moved here: the same conflict panel, not a bare "not found" left standing
        with editor_server.client() as client:
            client.delete(f"/annotations/{cat['id']}", params={"version": kept["version"]}).raise_for_status()
        x, y, w, h = kept["bbox"]
        b.get_by_test_id("edit-box").wait_for()  # still selected after the reload
        refused, _ = move(b, 10, 10)
        assert refused.status == 404, refused.text()
        conflict.wait_for()
        assert "Changed by someone else" in conflict.inner_text() and "not found" in conflict.inner_text()
        conflict.get_by_role("button", name="Reload (discard my change)").click()
        b.locator(f"[data-testid=box-list] .box-row[data-box-id='{cat['id']}']").wait_for(state="detached")
    finally:
        first.close()
        second.close()


def test_promoting_a_prediction_makes_it_ground_truth_and_the_evaluation_follows(editor, editor_server) -> None:
    page = editor
    sid = open_sample(page, editor_server, "coffee.jpg")
    with editor_server.client() as client:
        before = client.get(f"/datasets/{editor_server.photos_id}/evaluation", params={"run": "detector"}).json()
    # the detector's confident box at [5, 5, 60, 50] has no ground truth: a false positive
    fp = next(a for a in sample(editor_server, sid)["annotations"] if a["source"] == "detector" and a["bbox"][0] == 5)
    assert fp["evaluation"]["detector"]["status"] == "FP"
    page.locator(f"[data-testid=box-list] .box-row[data-box-id='{fp['id']}']").click()
    with page.expect_response(lambda r: r.url.endswith(f"/annotations/{fp['id']}/promote")) as response:
        page.keyboard.press("p")
    assert response.value.status == 201, response.value.text()
    new = response.value.json()["annotation"]
    assert new["source"] == "ground_truth" and new["bbox"] == fp["bbox"] and new["category"] == fp["category"]
    page.locator(f"[data-testid=box-list] .box-row[data-box-id='{new['id']}']").wait_for()  # listed as ground truth
    # the app reads the stale evaluation after the edit (bringing it up to date), then shows the box matched
    page.locator(f"[data-testid=box-list] .box-row[data-box-id='{fp['id']}'] .badge.eval-TP").wait_for()

    after_box = next(a for a in sample(editor_server, sid)["annotations"] if a["id"] == fp["id"])
    assert after_box["evaluation"]["detector"]["status"] == "TP"
    with editor_server.client() as client:
        after = client.get(f"/datasets/{editor_server.photos_id}/evaluation", params={"run": "detector"}).json()
    cls = {c["category"]: c for c in before["per_class"]}, {c["category"]: c for c in after["per_class"]}
    assert cls[1][fp["category"]]["tp"] == cls[0][fp["category"]]["tp"] + 1
    assert cls[1][fp["category"]]["fp"] == cls[0][fp["category"]]["fp"] - 1
    assert after["map"] != before["map"]


def test_triage_keys_review_status_and_next_unreviewed(editor, editor_server) -> None:
    page = editor
    sid = open_sample(page, editor_server, "clock.jpg")
    clock = gt(editor_server, sid)[0]
    select_box(page, clock["id"])
    with page.expect_response(lambda r: r.url.endswith(f"/annotations/{clock['id']}/verdict")) as response:
        page.keyboard.press("i")
    assert response.value.status == 200, response.value.text()
    assert gt(editor_server, sid)[0]["verdict"] == "ignore"
    page.wait_for_function("() => document.querySelector('[data-testid=box-verdict]')?.textContent === 'ignore'")

    with page.expect_response(lambda r: r.url.endswith(f"/samples/{sid}/review")) as response:
        page.keyboard.press("r")
    assert response.value.status == 200, response.value.text()
    page.locator("[data-testid=review-status][data-status=reviewed]").wait_for()
    assert sample(editor_server, sid)["review_status"] == "reviewed"

    page.keyboard.press("n")  # the first unreviewed sample of the list: the dataset's first sample by id
    first = min(editor_server.ids.values())
    page.wait_for_function(
        "id => document.querySelector('[data-testid=sample-view]')?.dataset.sampleId === String(id)", arg=first
    )
    assert "open=0" in page.url  # opened at its list position: ← / → go on from there


def test_a_drawn_box_with_a_picked_class_is_in_the_export(editor, editor_server) -> None:
    page = editor
    sid = open_sample(page, editor_server, "page.jpg")
    info = sample(editor_server, sid)
    assert gt(editor_server, sid) == []
    page.keyboard.press("a")
    page.get_by_test_id("draw-surface").wait_for()
    left, top, scale = frame(page, info["width"], info["height"])
    drag(page, left + 40 * scale, top + 30 * scale, 120, 80)
    picker = page.get_by_test_id("class-picker")
    picker.get_by_role("textbox", name="class").fill("coi")  # type-ahead: Enter takes the first match
    with page.expect_response(lambda r: r.url.endswith(f"/samples/{sid}/annotations")) as response:
        picker.get_by_role("textbox", name="class").press("Enter")
    assert response.value.status == 201, response.value.text()
    drawn = gt(editor_server, sid)
    assert [a["category"] for a in drawn] == ["coin"]
    assert drawn[0]["bbox"] == pytest.approx([40, 30, 120 / scale, 80 / scale], abs=1 / scale)

    # a name the dataset does not have creates nothing on Enter: only its explicit button adds it
    page.locator(f"[data-testid=box-list] .box-row.lit[data-box-id='{drawn[0]['id']}']").wait_for()  # selected
    page.keyboard.press("t")
    picker.get_by_role("textbox", name="class").fill("zebra")
    picker.get_by_role("textbox", name="class").press("Enter")
    assert gt(editor_server, sid)[0]["category"] == "coin"
    with page.expect_response(is_patch) as response:
        picker.get_by_test_id("new-category").click()
    assert response.value.status == 200, response.value.text()
    assert gt(editor_server, sid)[0]["category"] == "zebra"

    with editor_server.client() as client:
        exported = client.get(f"/datasets/{editor_server.photos_id}/export", params={"format": "coco"})
    assert exported.status_code == 200, exported.text
    coco = json.loads(exported.content)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    image = next(i for i in coco["images"] if i["file_name"] == "page.jpg")
    boxes = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    assert [(names[a["category_id"]], a["bbox"]) for a in boxes] == [("zebra", pytest.approx(drawn[0]["bbox"]))]


def test_the_sidebar_filters_by_review_status(editor, editor_server) -> None:
    page = editor
    with editor_server.client() as client:
        sid = editor_server.ids["horse.jpg"]
        assert client.put(f"/samples/{sid}/review", json={"status": "needs_fix"}).status_code == 200
    page.goto(f"{editor_server.url}/datasets/{editor_server.photos_id}")
    page.get_by_label("review status").select_option("needs_fix")
    page.wait_for_url(lambda url: "review=needs_fix" in url)
    page.wait_for_function("() => document.querySelector('[data-testid=total]')?.textContent === '1 sample'")
    assert page.locator(".cell .caption-name").all_inner_texts() == ["horse.jpg"]


def test_arrow_keys_nudge_the_selected_box_in_one_undoable_edit(editor, editor_server) -> None:
    """Arrows move the selected ground-truth box by 1 image pixel, Shift+arrow by 10; a burst of presses is
    one edit (one PATCH, one undo)."""
    page = editor
    sid = open_sample(page, editor_server, "horse.jpg")
    horse = gt(editor_server, sid)[0]
    x, y, w, h = horse["bbox"]
    select_box(page, horse["id"])
    patches: list[str] = []
    page.on(
        "request", lambda r: patches.append(r.url) if "/api/annotations/" in r.url and r.method == "PATCH" else None
    )
    with page.expect_response(is_patch) as response:
        for key in ("ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown", "ArrowUp"):
            page.keyboard.press(key)
    assert response.value.status == 200, response.value.text()
    want = [x + 3, y + 9, w, h]
    stored = next(a for a in gt(editor_server, sid) if a["id"] == horse["id"])
    assert stored["bbox"] == pytest.approx(want, abs=1e-6) and stored["version"] == horse["version"] + 1
    bbox_shown(page, want)
    assert len(patches) == 1, patches
    with page.expect_response(lambda r: r.url.endswith(f"/datasets/{editor_server.photos_id}/undo")) as undo:
        page.keyboard.press("Control+z")
    assert undo.value.status == 200, undo.value.text()
    restored = next(a for a in gt(editor_server, sid) if a["id"] == horse["id"])
    assert restored["bbox"] == pytest.approx(horse["bbox"], abs=1e-6)
