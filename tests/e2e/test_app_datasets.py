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
