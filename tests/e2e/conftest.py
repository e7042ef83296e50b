"""End-to-end rig: Debian's Chromium (/usr/bin/chromium) driven by Playwright, no browser download.

`browser` is one headless Chromium per test session; `page` a fresh context (cookies, storage) per test.
The flags keep Chromium off the network: this machine's closed network refuses every host but loopback.
`photos_server` is a real `datavisor serve` with the built app and the photo dataset (plus its `detector`
prediction run), one per test module that asks for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.app_build import ensure_built
from tests.e2e.app_photos import make_photos
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.datasets import import_dataset, wait_job
from tests.support.server import Server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def built_app() -> Path:
    return ensure_built()


@pytest.fixture(scope="module")
def photos_server(built_app: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose data root (`state_dir / "datasets"`) holds the photos, imported as dataset `photos_id`
    with the `detector` run; `photos` is their COCO dict, `ids` maps file name -> sample id."""
    state = tmp_path_factory.mktemp("app-photos")
    datasets = state / "datasets"
    coco = make_photos(datasets / "photos")
    server = Server(state)
    with server, server.client() as client:
        job = import_dataset(client, "photos", datasets / "photos" / "annotations.json", "coco")
        assert job["state"] == "succeeded", job
        started = client.post(
            f"/datasets/{job['dataset_id']}/predictions",
            json={"run": "detector", "format": "coco_results", "path": str(datasets / "photos" / "predictions.json")},
        )
        assert started.status_code == 202, started.text
        assert wait_job(client, started.json()["job_id"])["state"] == "succeeded"
        server.photos_id = job["dataset_id"]  # type: ignore[attr-defined]
        server.photos = coco  # type: ignore[attr-defined]
        items = client.get(f"/datasets/{server.photos_id}/samples", params={"limit": 100}).json()["items"]
        server.ids = {item["file_name"]: item["id"] for item in items}  # type: ignore[attr-defined]
        yield server
