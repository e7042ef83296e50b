"""The datasets screen in real Chromium on a server of its own: the empty states say what to do next, and a
dataset is deleted only after the confirmation (Cancel keeps it).

Its own server because the first screen must start with no dataset at all (the other modules share one
with the photos imported).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.app_build import ensure_built
from tests.support.browser import TIMEOUT
from tests.support.datasets import import_dataset, make_coco
from tests.support.server import Server, fresh_server


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory) -> Iterator[Server]:
    ensure_built()
    with fresh_server(tmp_path_factory, "app-datasets") as server:
        yield server


def test_empty_states_then_delete_asks_first(page, empty_server) -> None:
    page.set_default_timeout(TIMEOUT)
    server = empty_server
    page.goto(server.url + "/")
    empty = page.locator(".empty", has_text="No datasets yet")
    empty.wait_for()
    assert "Import one with the form" in empty.inner_text()

    with server.client() as client:
        job = import_dataset(client, "to delete", make_coco(server.state_dir / "datasets" / "small", 3), "coco")
        assert job["state"] == "succeeded", job
    dataset_id = job["dataset_id"]

    # no prediction runs: the grid says how to add one
    page.goto(f"{server.url}/datasets/{dataset_id}")
    page.locator("text=No predictions yet").wait_for()
    assert f"POST /api/datasets/{dataset_id}/predictions" in page.locator("text=No predictions yet").inner_text()

    page.goto(server.url + "/")
    row = page.get_by_test_id("datasets").locator("tr", has_text="to delete")
    row.wait_for()
    # Cancel keeps the dataset
    row.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete “to delete”?")
    dialog.wait_for()
    assert "3 samples" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    with server.client() as client:
        assert client.get(f"/datasets/{dataset_id}").status_code == 200
    # confirmed: gone from the server and the list, which is empty again
    row.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete dataset").click()
    dialog.wait_for(state="detached")
    empty.wait_for()
    with server.client() as client:
        assert client.get(f"/datasets/{dataset_id}").status_code == 404


def test_tagging_more_than_10000_matching_samples_goes_in_chunks_with_progress(page, empty_server) -> None:
    """Issue 12: a selection over 10,000 samples (the tags endpoint's limit per call) is tagged in chunks, with
    the progress shown; every sample ends up tagged. No image files: the thumbnails 404, the tags do not care."""
    page.set_default_timeout(TIMEOUT)
    server, n = empty_server, 12_000
    coco = {
        "images": [{"id": i + 1, "file_name": f"f{i:05d}.jpg", "width": 64, "height": 48} for i in range(n)],
        "annotations": [],
        "categories": [{"id": 1, "name": "thing"}],
    }
    path = make_coco(server.state_dir / "datasets" / "many-ids", images=False, data=coco)
    with server.client() as client:
        job = import_dataset(client, "many ids", path, "coco", annotations_only=True)
        assert job["state"] == "succeeded", job
    dataset_id = job["dataset_id"]
    page.add_init_script(
        """
        window.__tagging = [];
        setInterval(() => {
          const p = document.querySelector('.selection-progress');
          if (p) window.__tagging.push(p.textContent);
        }, 5);
        """
    )
    chunks: list[int] = []
    page.on(
        "request",
        lambda r: (
            chunks.append(len(r.post_data_json["sample_ids"]))
            if r.method == "POST" and r.url.endswith(f"/api/datasets/{dataset_id}/tags")
            else None
        ),
    )
    page.goto(f"{server.url}/datasets/{dataset_id}")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=total]')?.textContent === t", arg=f"{n:,} samples"
    )
    page.locator(".cell[data-index='0'] .check").click()
    page.get_by_role("button", name=f"Select all {n:,} matching").click()
    assert page.get_by_test_id("selected-count").inner_text() == f"{n:,} selected"
    page.get_by_label("tag name").fill("bulk")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_test_id("tag-result").wait_for(timeout=120_000)

    assert sum(chunks) == n and len(chunks) >= 2 and max(chunks) <= 10_000, chunks
    shown = page.evaluate("window.__tagging")
    assert any(t.startswith("tagging") for t in shown), shown[-5:]
    with server.client() as client:
        tagged = client.get(f"/datasets/{dataset_id}/samples", params={"tag": "bulk", "limit": 1}).json()
        assert tagged["total"] == n
        client.delete(f"/datasets/{dataset_id}").raise_for_status()
