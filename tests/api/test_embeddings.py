"""Embeddings and similarity against a real server, the real EfficientNet-Lite0 and real photos.

The dataset: photos from scikit-image, each with a resized, a recompressed and a slightly cropped copy,
plus two photos without copies. Measured with this model: copies of one photo score 0.85-0.999
against each other, different photos at most ~0.5, so 0.8 separates them with a wide margin.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from app.services.embeddings.encoder import MAX_UPLOAD_BYTES
from tests.support.datasets import import_dataset, wait_job
from tests.support.server import Server

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "retina", "hubble_deep_field", "immunohistochemistry", "camera"]
SINGLES = ["coins", "brick"]
THRESHOLD = 0.8


def _array(name: str) -> np.ndarray:
    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return array[..., :3]


def _crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * share), int(h * share), int(w * (1 - share)), int(h * (1 - share))))


def _recompressed(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def make_photo_dataset(root: Path) -> dict[str, list[str]]:
    """root/photos/<name>_{orig,half,q25,crop}.jpg; returns name -> file names (original first)."""
    folder = root / "photos"
    folder.mkdir(parents=True)
    groups: dict[str, list[str]] = {}
    for name in PHOTOS + SINGLES:
        image = Image.fromarray(_array(name))
        w, h = image.size
        variants = {"orig": image}
        if name in PHOTOS:
            variants |= {
                "half": image.resize((w // 2, h // 2), Image.BICUBIC),
                "q25": _recompressed(image, 25),
                "crop": _crop(image, 0.05),
            }
        groups[name] = []
        for kind, variant in variants.items():
            file_name = f"{name}_{kind}.jpg"
            variant.convert("RGB").save(folder / file_name, "JPEG", quality=90)
            groups[name].append(file_name)
    return groups


def sample_ids(client: httpx.Client, dataset_id: int) -> dict[str, int]:
    body = client.get(f"/datasets/{dataset_id}/samples", params={"limit": 500}).json()
    return {Path(item["file_name"]).name: item["id"] for item in body["items"]}


def embed(client: httpx.Client, dataset_id: int, timeout: float = 180.0) -> dict:
    response = client.post(f"/datasets/{dataset_id}/embeddings")
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["job_id"], timeout=timeout)
    assert job["state"] == "succeeded", job
    return job


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """One server for the photo tests: dataset `embedded` (embedded once) and `raw` (never embedded)."""
    state = tmp_path_factory.mktemp("embeddings") / "state"
    groups = make_photo_dataset(state / "datasets" / "photos")
    server = Server(state)
    with server, server.client() as client:
        raw = import_dataset(client, "raw", "photos", fmt="folders")["dataset_id"]
        dataset_id = import_dataset(client, "photos", "photos", fmt="folders")["dataset_id"]
        ids = sample_ids(client, dataset_id)
        assert client.get(f"/samples/{ids['chelsea_orig.jpg']}/similar").status_code == 409  # not embedded yet
        job = embed(client, dataset_id)
        yield server, dataset_id, groups, ids, job, raw


def test_copies_find_their_original_and_group_as_duplicates(photos) -> None:
    server, dataset_id, groups, ids, job, _ = photos
    with server.client() as client:
        assert job["result"]["embedded"] == len(ids) == 34
        assert job["result"]["model"] == "efficientnet-lite0" and job["result"]["dim"] == 1280

        for name, files in groups.items():
            original = ids[files[0]]
            for copy in files[1:]:
                hits = client.get(f"/samples/{ids[copy]}/similar", params={"k": 3}).json()
                assert len(hits) == 3
                assert original in [h["sample_id"] for h in hits], (name, copy, hits)
                assert ids[copy] not in [h["sample_id"] for h in hits]
                scores = [h["score"] for h in hits]
                assert scores == sorted(scores, reverse=True)

        body = client.get(f"/datasets/{dataset_id}/duplicates", params={"threshold": THRESHOLD}).json()
        found = sorted(sorted(g["sample_ids"]) for g in body["groups"])
        expected = sorted(sorted(ids[f] for f in groups[name]) for name in PHOTOS)
        assert found == expected
        assert body["samples"] == 34 and body["threshold"] == THRESHOLD

        # every sample has a neighbour list of the requested length, best first, itself excluded
        hits = client.get(f"/samples/{ids['coins_orig.jpg']}/similar", params={"k": 50}).json()
        assert len(hits) == 33 and ids["coins_orig.jpg"] not in [h["sample_id"] for h in hits]


def test_upload_uniqueness_projection_and_rerun(photos) -> None:
    server, dataset_id, groups, ids, _, _ = photos
    with server.client() as client:
        # a picture that is not in the dataset: another crop of the cat, another size, PNG
        upload = io.BytesIO()
        _crop(Image.fromarray(_array("chelsea")), 0.08).resize((300, 200)).save(upload, "PNG")
        response = client.post(
            f"/datasets/{dataset_id}/similar",
            params={"k": 4, "name": "cat.png"},
            content=upload.getvalue(),
            headers={"Content-Type": "image/png"},
        )
        assert response.status_code == 200, response.text
        assert {h["sample_id"] for h in response.json()} == {ids[f] for f in groups["chelsea"]}

        # photos without copies are the most unique ones
        page = client.get(
            f"/datasets/{dataset_id}/samples", params={"sort_by": "uniqueness", "sort_dir": "desc", "limit": 2}
        ).json()
        assert {Path(item["file_name"]).name for item in page["items"]} == {f"{n}_orig.jpg" for n in SINGLES}

        projection = client.get(f"/datasets/{dataset_id}/projection").json()
        assert projection["ids"] == sorted(ids.values())
        points = dict(zip(projection["ids"], zip(projection["x"], projection["y"], strict=True), strict=True))
        assert client.get(f"/datasets/{dataset_id}/projection").json() == projection  # cached, stable
        _assert_copies_cluster(points, ids, groups)
        # binary: int64 ids, float32 x, float32 y, the same numbers
        raw_reply = client.get(f"/datasets/{dataset_id}/projection", params={"format": "binary"})
        assert raw_reply.headers["content-type"] == "application/octet-stream"
        n = int(raw_reply.headers["x-points"])
        assert n == 34 and len(raw_reply.content) == 16 * n
        assert np.frombuffer(raw_reply.content[: 8 * n], "<i8").tolist() == projection["ids"]
        xs = np.frombuffer(raw_reply.content[8 * n : 12 * n], "<f4")
        assert np.allclose(xs, projection["x"], atol=1e-4)

        # t-SNE: 409 until its job ran, then stored with the vectors it came from
        response = client.get(f"/datasets/{dataset_id}/projection", params={"method": "tsne"})
        assert response.status_code == 409 and "POST" in response.json()["detail"]
        started = client.post(f"/datasets/{dataset_id}/projection", params={"method": "tsne"})
        assert started.status_code == 202, started.text
        assert wait_job(client, started.json()["job_id"], timeout=300)["state"] == "succeeded"
        tsne = client.get(f"/datasets/{dataset_id}/projection", params={"method": "tsne"}).json()
        assert tsne["method"] == "tsne" and tsne["ids"] == projection["ids"]
        _assert_copies_cluster(dict(zip(tsne["ids"], zip(tsne["x"], tsne["y"], strict=True), strict=True)), ids, groups)
        assert client.get(f"/datasets/{dataset_id}/projection", params={"method": "umap"}).status_code == 422

        # map colours: one value per sample, columnar
        colours = client.get(f"/datasets/{dataset_id}/projection/colors", params={"by": "category"}).json()
        assert colours["ids"] == sorted(ids.values())
        assert colours["labels"] == ["photos"] and colours["codes"] == [0] * 34  # one class folder
        uniq = client.get(f"/datasets/{dataset_id}/projection/colors", params={"by": "uniqueness"}).json()
        assert len(uniq["values"]) == 34 and max(uniq["values"]) == 1.0
        assert client.get(f"/datasets/{dataset_id}/projection/colors", params={"by": "errors"}).status_code == 422

        # a second run finds nothing to do
        again = embed(client, dataset_id)
        assert again["result"]["embedded"] == 0 and again["result"]["vectors"] == 34


def _assert_copies_cluster(points: dict, ids: dict, groups: dict) -> None:
    """Copies of one photo land closer to each other than the other photos do to them."""
    cat = np.array([points[ids[f]] for f in groups["chelsea"]])
    others = np.array([points[ids[f]] for n in PHOTOS[1:] for f in groups[n]])
    spread = np.linalg.norm(cat - cat.mean(0), axis=1).max()
    assert np.linalg.norm(others - cat.mean(0), axis=1).mean() > spread


def test_bad_inputs_get_clear_errors(photos) -> None:
    server, dataset_id, groups, ids, _, raw = photos
    with server.client() as client:
        some = ids["chelsea_orig.jpg"]
        # not embedded yet: 409 says what to do
        for path in (f"/datasets/{raw}/duplicates", f"/datasets/{raw}/projection"):
            response = client.get(path)
            assert response.status_code == 409 and f"POST /datasets/{raw}/embeddings" in response.json()["detail"]
        response = client.get("/samples/987654321/similar")
        assert response.status_code == 404 and "not found" in response.json()["detail"]
        for k in (0, -1, 1001, "many"):
            assert client.get(f"/samples/{some}/similar", params={"k": k}).status_code == 422
        for path in ("/datasets/424242/embeddings", "/datasets/424242/similar"):
            assert client.post(path, content=b"x", headers={"Content-Type": "image/png"}).status_code == 404
        assert client.get("/datasets/424242/duplicates").status_code == 404
        assert client.get("/datasets/424242/projection").status_code == 404
        assert client.get(f"/datasets/{dataset_id}/duplicates", params={"threshold": 1.5}).status_code == 422
        similar = f"/datasets/{dataset_id}/similar"
        response = client.post(
            similar, params={"name": "notes.jpg"}, content=b"just some text\n", headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith("notes.jpg: not a readable image")
        response = client.post(
            similar, params={"name": "notes.txt"}, content=b"text", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 422 and response.json()["detail"].startswith("notes.txt: send the image")
        assert client.post(similar).status_code == 422  # no file at all
        response = client.post(
            similar, params={"name": "empty.jpg"}, content=b"", headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 422 and response.json()["detail"] == "empty.jpg: the upload is empty"
        # over the limit: refused by its declared length, and by what was read when the length is not given
        big = b"\xff" * (MAX_UPLOAD_BYTES + 1)
        response = client.post(similar, params={"name": "big.jpg"}, content=big, headers={"Content-Type": "image/jpeg"})
        assert response.status_code == 413 and response.json()["detail"].startswith("big.jpg: the upload is larger")
        response = client.post(
            similar,
            params={"name": "big.jpg"},
            content=iter([big[: 1 << 20], big[1 << 20 :]]),
            headers={"Content-Type": "image/jpeg"},
        )
        assert response.status_code == 413
        # a decompression bomb: a tiny PNG that claims more pixels than may be decoded
        response = client.post(
            similar, params={"name": "bomb.png"}, content=_bomb_png(), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 422 and response.json()["detail"].startswith("bomb.png: not a readable image")


def test_duplicates_keep_one_per_group_and_the_rest_is_one_exclude_filter_away(photos) -> None:
    server, dataset_id, groups, ids, _, _ = photos
    d, names = dataset_id, {v: k for k, v in ids.items()}
    with server.client() as client:
        body = client.get(f"/datasets/{d}/duplicates", params={"threshold": THRESHOLD, "limit": 3}).json()
        assert body["group_count"] == len(PHOTOS) and len(body["groups"]) == 3
        assert body["duplicates"] == 3 * len(PHOTOS)
        for group in body["groups"]:
            # the original is kept: as big as the q25 copy and imported before it (crop and half are smaller)
            assert names[group["kept"]].endswith("_orig.jpg"), group
            members = group["members"]
            assert members[0]["sample_id"] == group["kept"] and members[0]["score"] == 1.0
            assert [m["score"] for m in members[1:]] == sorted((m["score"] for m in members[1:]), reverse=True)
            assert group["score"] == members[-1]["score"] >= THRESHOLD
            assert not any(m["tagged"] for m in members)
        page2 = client.get(f"/datasets/{d}/duplicates", params={"threshold": THRESHOLD, "offset": 3, "limit": 3}).json()
        assert {g["kept"] for g in page2["groups"]}.isdisjoint(g["kept"] for g in body["groups"])

        # the user keeps the cat's q25 copy instead of its original
        keep = ids["chelsea_q25.jpg"]
        r = client.post(f"/datasets/{d}/duplicates/tag", json={"threshold": THRESHOLD, "keep": [keep]})
        assert r.status_code == 200, r.text
        assert r.json() | {"keep_rule": ""} == {
            "tag": "duplicate",
            "groups": 8,
            "kept": 8,
            "tagged": 24,
            "added": 24,
            "removed": 0,
            "keep_rule": "",
        }
        kept = {ids[f"{n}_orig.jpg"] for n in PHOTOS if n != "chelsea"} | {keep}
        singles = {ids[f"{n}_orig.jpg"] for n in SINGLES}
        left = client.get(f"/datasets/{d}/samples", params={"exclude_tag": "duplicate", "limit": 500}).json()
        assert {s["id"] for s in left["items"]} == kept | singles
        tagged = client.get(f"/datasets/{d}/samples", params={"tag": "duplicate", "limit": 500}).json()
        assert {s["id"] for s in tagged["items"]} == set(ids.values()) - kept - singles

        # the exclude filter everywhere a filter is taken
        n = len(kept | singles)
        facets = client.get(f"/datasets/{d}/facets", params={"exclude_tag": "duplicate"}).json()
        assert facets["total"] == n and all(t["value"] != "duplicate" for t in facets["tags"])
        stats = client.get(f"/datasets/{d}/statistics", params={"exclude_tag": "duplicate"}).json()
        assert stats["totals"]["samples"] == n
        dist = client.get(f"/datasets/{d}/statistics/distributions", params={"exclude_tag": "duplicate"}).json()
        assert sum(b["images"] for b in dist["boxes_per_image"]) == n
        coco = client.get(f"/datasets/{d}/export", params={"exclude_tag": "duplicate"}).json()
        assert len(coco["images"]) == n
        view = client.post(
            f"/datasets/{d}/views", json={"name": "no duplicates", "filters": {"exclude_tag": ["duplicate"]}}
        )
        assert view.status_code == 201 and view.json()["filters"] == {"exclude_tag": ["duplicate"]}
        selection = client.post(
            f"/datasets/{d}/selections", json={"sample_ids": sorted(groups_ids := [ids[f] for f in groups["chelsea"]])}
        ).json()
        inside = client.get(
            f"/datasets/{d}/samples", params={"selection": selection["id"], "exclude_tag": "duplicate"}
        ).json()
        assert [s["id"] for s in inside["items"]] == [keep]

        # the tags endpoint takes the stored selection too
        r = client.post(f"/datasets/{d}/tags", json={"selection": selection["id"], "add": ["cat"]})
        assert r.status_code == 200 and r.json()["matched"] == r.json()["added"] == len(groups_ids)
        cats = client.get(f"/datasets/{d}/samples", params={"tag": "cat", "limit": 500}).json()
        assert sorted(s["id"] for s in cats["items"]) == sorted(groups_ids)
        r = client.post(f"/datasets/{d}/tags", json={"selection": selection["id"], "sample_ids": [keep], "add": ["x"]})
        assert r.status_code == 422 and "either sample_ids or selection" in r.json()["detail"]
        assert client.post(f"/datasets/{d}/tags", json={"selection": 987654, "add": ["x"]}).status_code == 404

        # the choice stands on a second run (the q25 copy is the group's one untagged member) ...
        r = client.post(f"/datasets/{d}/duplicates/tag", json={"threshold": THRESHOLD}).json()
        assert (r["added"], r["removed"], r["tagged"]) == (0, 0, 24)
        # ... until the user keeps the original again: the tag moves
        r = client.post(
            f"/datasets/{d}/duplicates/tag", json={"threshold": THRESHOLD, "keep": [ids["chelsea_orig.jpg"]]}
        ).json()
        assert (r["added"], r["removed"], r["tagged"]) == (1, 1, 24)
        marked = client.get(f"/datasets/{d}/duplicates", params={"threshold": THRESHOLD}).json()
        assert all(m["tagged"] == (m["sample_id"] != g["kept"]) for g in marked["groups"] for m in g["members"])

        # a keep outside every group, or two in one group: 422 naming the entry, nothing changed
        single = ids["coins_orig.jpg"]
        r = client.post(f"/datasets/{d}/duplicates/tag", json={"threshold": THRESHOLD, "keep": [single]})
        assert r.status_code == 422 and r.json()["detail"].startswith(f"keep[0]: sample {single} is in no")
        two = [ids["coffee_orig.jpg"], ids["coffee_half.jpg"]]
        r = client.post(f"/datasets/{d}/duplicates/tag", json={"threshold": THRESHOLD, "keep": two})
        assert r.status_code == 422 and r.json()["detail"].startswith("keep[1]:")
        counts = {t["value"]: t["count"] for t in client.get(f"/datasets/{d}/facets").json()["tags"]}
        assert (counts["duplicate"], counts["cat"]) == (24, 4)
        # tidy up for the tests after this one
        client.post(f"/datasets/{d}/tags", json={"sample_ids": list(ids.values()), "remove": ["duplicate", "cat"]})


def _bomb_png() -> bytes:
    """A small PNG whose header claims 30,000 x 30,000 pixels (its IHDR rewritten, CRC fixed)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", 30_000, 30_000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def _noise_dataset(root: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    folder = root / "noise"
    folder.mkdir(parents=True)
    base = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    for i in range(n):
        tile = np.roll(base, i, axis=1) ^ np.uint8(i % 251)
        Image.fromarray(tile).resize((640, 480), Image.NEAREST).save(folder / f"{i:04d}.jpg", quality=85)


def test_cancel_keeps_finished_vectors_and_rerun_embeds_the_rest(server) -> None:
    n = 400
    _noise_dataset(server.state_dir / "datasets" / "noise", n)
    with server.client() as client:
        dataset_id = import_dataset(client, "noise", "noise", fmt="folders")["dataset_id"]
        job_id = client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"]
        # a second POST while it runs hands back the same job
        assert client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"] == job_id
        deadline = time.monotonic() + 120
        while client.get(f"/jobs/{job_id}").json()["done"] < 32:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.05)
        assert client.delete(f"/datasets/{dataset_id}/embeddings").json() == {"cancelled": [job_id]}
        job = wait_job(client, job_id)
        assert job["state"] == "cancelled" and job["done"] < n
        status = client.get(f"/datasets/{dataset_id}/embeddings").json()
        kept = status["models"][0]["vectors"]
        assert 0 < kept < n and status["jobs"] == []

        second = client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"]
        assert client.delete(f"/jobs/{second}").json()["id"] == second  # the generic job route cancels too
        assert wait_job(client, second)["state"] == "cancelled"

        kept = client.get(f"/datasets/{dataset_id}/embeddings").json()["models"][0]["vectors"]
        rest = embed(client, dataset_id)
        assert rest["total"] == rest["result"]["embedded"] == n - kept  # only what was missing
        assert client.get(f"/datasets/{dataset_id}/embeddings").json()["models"][0]["vectors"] == n


def test_vectors_survive_a_restart(server_factory, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = server_factory(state_dir=state)
    (state / "datasets").mkdir(parents=True)
    groups = make_photo_dataset(state / "datasets" / "photos")
    with first, first.client() as client:
        dataset_id = import_dataset(client, "photos", "photos", fmt="folders")["dataset_id"]
        ids = sample_ids(client, dataset_id)
        embed(client, dataset_id)
        before = client.get(f"/samples/{ids['coffee_half.jpg']}/similar", params={"k": 5}).json()
        projection = client.get(f"/datasets/{dataset_id}/projection").json()
    second = server_factory(state_dir=state)
    with second, second.client() as client:
        status = client.get(f"/datasets/{dataset_id}/embeddings").json()
        assert status["models"] == [{"model": "efficientnet-lite0", "dim": 1280, "vectors": 34}]
        assert status["jobs"] == []  # the embedding job stored the map: nothing to recompute
        # the map is read back as stored, without loading the vectors
        assert client.get(f"/datasets/{dataset_id}/projection").json() == projection
        assert "vectors of dataset" not in second.log_path.read_text()
        assert client.get(f"/samples/{ids['coffee_half.jpg']}/similar", params={"k": 5}).json() == before
        assert ids[groups["coffee"][0]] in [h["sample_id"] for h in before[:3]]
        again = embed(client, dataset_id)
        assert again["result"]["embedded"] == 0
    # vectors without a stored map (written before maps were stored): the app computes it as a job at start
    with duckdb.connect(str(state / "datavisor.duckdb")) as con:
        con.execute("DELETE FROM projections")
    third = server_factory(state_dir=state)
    with third, third.client() as client:
        for job in client.get(f"/datasets/{dataset_id}/embeddings").json()["jobs"]:  # unless done already
            assert wait_job(client, job["id"], timeout=120)["state"] == "succeeded"
        assert client.get(f"/datasets/{dataset_id}/projection").json() == projection
        assert third.log_path.read_text().count("vectors of dataset") == 1  # loaded once, by the job
    with duckdb.connect(str(state / "datavisor.duckdb"), read_only=True) as con:
        assert con.execute("SELECT kind, state FROM jobs ORDER BY created_at DESC LIMIT 1").fetchall() == [
            ("projection", "succeeded")
        ]


def test_bring_your_own_torchscript_model_of_another_dimension(server_factory, tmp_path: Path) -> None:
    # A colour-histogram-like model: 48 numbers per image, nothing like the default 1280.
    module = torch.nn.Sequential(torch.nn.AvgPool2d(28), torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 48))
    torch.manual_seed(0)
    model_path = tmp_path / "my-model.pt"
    torch.jit.script(module.eval()).save(str(model_path))
    state = tmp_path / "state"
    (state / "datasets").mkdir(parents=True)
    groups = make_photo_dataset(state / "datasets" / "photos")
    srv = server_factory(state_dir=state, embedding_model=str(model_path), torch_threads=1)
    with srv, srv.client() as client:
        dataset_id = import_dataset(client, "photos", "photos", fmt="folders")["dataset_id"]
        ids = sample_ids(client, dataset_id)
        job = embed(client, dataset_id)
        assert job["result"]["dim"] == 48 and job["result"]["model"].startswith("torchscript:my-model:")
        status = client.get(f"/datasets/{dataset_id}/embeddings").json()
        assert status["models"][0]["dim"] == 48 and status["models"][0]["vectors"] == 34
        hits = client.get(f"/samples/{ids['chelsea_q25.jpg']}/similar", params={"k": 3}).json()
        assert len(hits) == 3 and ids["chelsea_q25.jpg"] not in [h["sample_id"] for h in hits]
        upload = io.BytesIO()
        Image.fromarray(_array("rocket")).save(upload, "JPEG")
        response = client.post(
            f"/datasets/{dataset_id}/similar", content=upload.getvalue(), headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 200 and len(response.json()) == 20
        assert response.json()[0]["sample_id"] in {ids[f] for f in groups["rocket"]}


def test_a_broken_model_file_fails_the_job_with_a_reason(server_factory, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a torchscript archive")
    state = tmp_path / "state"
    (state / "datasets").mkdir(parents=True)
    make_photo_dataset(state / "datasets" / "photos")
    srv = server_factory(state_dir=state, embedding_model=str(bad))
    with srv, srv.client() as client:
        assert client.get("/health").status_code == 200  # browsing still works
        dataset_id = import_dataset(client, "photos", "photos", fmt="folders")["dataset_id"]
        response = client.post(f"/datasets/{dataset_id}/embeddings")
        assert response.status_code == 503 and "broken.pt" in response.json()["detail"]


def test_stopping_the_server_mid_run_keeps_finished_vectors(server_factory, tmp_path: Path) -> None:
    n = 400
    state = tmp_path / "state"
    _noise_dataset(state / "datasets" / "noise", n)
    first = server_factory(state_dir=state)
    with first.start().client() as client:
        dataset_id = import_dataset(client, "noise", "noise", fmt="folders")["dataset_id"]
        job_id = client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"]
        deadline = time.monotonic() + 120
        while client.get(f"/jobs/{job_id}").json()["done"] < 16:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.05)
    started = time.monotonic()
    assert first.stop() == 0
    assert time.monotonic() - started < 30
    assert "checkpoint completed" in first.log()
    second = server_factory(state_dir=state)
    with second, second.client() as client:
        job = client.get(f"/jobs/{job_id}").json()
        assert job["state"] in ("cancelled", "failed")  # never left "running"
        kept = client.get(f"/datasets/{dataset_id}/embeddings").json()["models"][0]["vectors"]
        assert 0 < kept < n
        rest = embed(client, dataset_id)
        assert rest["result"]["embedded"] == n - kept
