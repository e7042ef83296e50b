"""GET /api/files: the import form's file browser lists only inside the data roots (symlinks too)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from app.services.files import MAX_ENTRIES
from tests.support.server import Server


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict]:
    """Two data roots and, next to them, a secret folder the server must never list."""
    base = tmp_path_factory.mktemp("files")
    one, two, outside = base / "roots" / "one", base / "roots" / "two", base / "outside"
    (one / "coco" / "images").mkdir(parents=True)
    (one / "coco" / "annotations.json").write_text("{}")
    (one / "coco" / "images" / "a.jpg").write_bytes(b"x" * 10)
    (one / "Zebra").mkdir()
    (one / "alpha").mkdir()
    (one / "b.txt").write_text("hello")
    (one / "C.txt").write_text("hi")
    (two / "yolo").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    # symlinks inside a root: out of the roots (dir and file), dangling, a loop, and one staying inside
    (one / "escape").symlink_to(outside, target_is_directory=True)
    (one / "escape.txt").symlink_to(outside / "secret.txt")
    (one / "dangling").symlink_to(one / "nowhere")
    (one / "loop").symlink_to(one / "loop")
    (one / "to-yolo").symlink_to(two / "yolo", target_is_directory=True)
    # special files: never opened (reading a FIFO with no writer would hang the request)
    os.mkfifo(one / "pipe")
    # names that are not UTF-8 (they cannot be named in JSON: the listing was a 500)
    os.mkdir(os.fsencode(one) + b"/dir-\xff")
    (one / "b.txt").write_text("hello")
    os.link(one / "b.txt", os.fsencode(one) + b"/file-\xfe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(one / "sock"))
    many = one / "many"
    many.mkdir()
    for i in range(MAX_ENTRIES + 3):
        (many / f"f{i:05d}").touch()
    server = Server(base / "state", data_roots=f"{one},{two}")
    with server, server.client() as client:
        yield {"client": client, "one": one, "two": two, "outside": outside}
    sock.close()


def listing(env: dict, path: str | None = None, status: int = 200) -> dict:
    response = env["client"].get("/files", params={} if path is None else {"path": path})
    assert response.status_code == status, response.text
    return response.json()


def names(body: dict) -> list[str]:
    return [e["name"] for e in body["entries"]]


def test_without_a_path_the_roots_are_listed(env) -> None:
    body = listing(env)
    roots = [str(env["one"]), str(env["two"])]
    assert body["roots"] == roots
    assert body["path"] is None and body["parent"] is None and body["truncated"] is False
    assert body["entries"] == [
        {"name": "one", "path": roots[0], "kind": "dir", "size": None},
        {"name": "two", "path": roots[1], "kind": "dir", "size": None},
    ]


def test_a_root_lists_dirs_first_then_files_by_name_and_nothing_else(env) -> None:
    one = env["one"]
    body = listing(env, str(one))
    assert body["path"] == str(one) and body["parent"] is None  # at a root there is no way up
    # folders first (the in-roots symlink to two/yolo is a folder), then files, case-insensitive by name;
    # no pipe, no socket, no link out of the roots, no dangling link, no loop, no name that is not UTF-8
    assert names(body) == ["alpha", "coco", "many", "to-yolo", "Zebra", "b.txt", "C.txt"]
    by_name = {e["name"]: e for e in body["entries"]}
    assert by_name["b.txt"] == {"name": "b.txt", "path": str(one / "b.txt"), "kind": "file", "size": 5}
    assert by_name["coco"] == {"name": "coco", "path": str(one / "coco"), "kind": "dir", "size": None}
    assert body["truncated"] is False


def test_subfolders_relative_paths_and_parent(env) -> None:
    one = env["one"]
    body = listing(env, str(one / "coco" / "images"))
    assert body["parent"] == str(one / "coco")
    assert body["entries"] == [
        {"name": "a.jpg", "path": str(one / "coco" / "images" / "a.jpg"), "kind": "file", "size": 10}
    ]
    relative = listing(env, "coco")  # relative to the data root where it exists
    assert relative["path"] == str(one / "coco") and relative["parent"] == str(one)
    assert names(relative) == ["images", "annotations.json"]
    assert listing(env, "yolo")["path"] == str(env["two"] / "yolo")  # found in the second root
    # the in-roots link is followed to where it really points
    assert listing(env, str(one / "to-yolo"))["path"] == str(env["two"] / "yolo")


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "../../outside",
        "coco/../../../outside",
        "/",
        "/etc",
        "OUTSIDE",  # placeholder: the absolute secret folder
        "escape",
        "ESCAPE_ABS",  # placeholder: the absolute symlink path
    ],
)
def test_anything_resolving_outside_the_roots_is_403(env, path: str) -> None:
    path = {"OUTSIDE": str(env["outside"]), "ESCAPE_ABS": str(env["one"] / "escape")}.get(path, path)
    body = listing(env, path, status=403)
    assert "outside the allowed data roots" in body["detail"]
    assert "secret" not in str(body)


def test_bad_paths_are_4xx_with_a_message(env) -> None:
    one = env["one"]
    assert "no such folder" in listing(env, str(one / "missing"), status=404)["detail"]
    assert "is not a folder" in listing(env, str(one / "b.txt"), status=422)["detail"]
    assert "is not a folder" in listing(env, str(one / "pipe"), status=422)["detail"]  # not opened: no hang
    assert "is not a folder" in listing(env, str(one / "sock"), status=422)["detail"]
    assert "NUL" in listing(env, "coco\x00/x", status=422)["detail"]
    assert "symbolic links" in listing(env, str(one / "loop"), status=422)["detail"]
    long_name = env["client"].get("/files", params={"path": str(one / ("x" * 300))})  # longer than a name may be
    assert long_name.status_code in (404, 422) and long_name.json()["detail"]
    response = env["client"].get("/files", params={"path": ""})
    assert response.status_code == 422 and "path" in response.json()["detail"]
    response = env["client"].get("/files", params={"path": "x" * 5000})
    assert response.status_code == 422


def test_a_huge_folder_is_cut_and_marked_truncated(env) -> None:
    body = listing(env, str(env["one"] / "many"))
    assert body["truncated"] is True
    assert len(body["entries"]) == MAX_ENTRIES
    assert names(body)[:2] == ["f00000", "f00001"] and names(body)[-1] == f"f{MAX_ENTRIES - 1:05d}"


def test_the_route_is_in_the_openapi_schema_with_its_reply_model(env) -> None:
    schema = env["client"].get("/openapi.json").json()
    route = schema["paths"]["/api/files"]["get"]
    assert route["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FileListing"
    }
    assert set(schema["components"]["schemas"]["FileEntry"]["properties"]) == {"name", "path", "kind", "size"}
