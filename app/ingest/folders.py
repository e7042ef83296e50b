"""Classification trees: one folder per class (`root/<class>/**/*.jpg`, nested folders included),
optionally under split folders (`root/train/<class>/...`). Each image gets one ground-truth box
covering the whole image, so class filters, facets and statistics work the same way for every format.

Layout folders (`images`, `labels`, `annotations`, `JPEGImages`, `obj_train_data`, ...) are never
classes: a tree whose only image folders are layout folders is not a class-folder dataset. Files in a
class folder that are not images are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import DataVisorError
from app.ingest import (
    ANNOTATIONS_SCHEMA,
    LAYOUT_FOLDERS,
    SAMPLES_SCHEMA,
    SPLIT_ALIASES,
    IngestError,
    Issues,
    ParsedDataset,
    Progress,
    Source,
    from_columns,
    has_images,  # noqa: F401 - re-exported for the registry
    image_size,
    is_dir,
    is_image_name,
    scan,
    split_name,
    walk_files,
)
from app.services import paths


def class_dirs(folder: Path) -> list[Path]:
    return [
        Path(e.path)
        for e in scan(folder)
        if is_dir(e) and not e.name.startswith(".") and e.name.lower() not in LAYOUT_FOLDERS
    ]


def split_folders(root: Path) -> list[Path]:
    """Split folders (train/, val/, valid/, test/ ...) holding class folders, if the tree is split."""
    return [d for d in class_dirs(root) if d.name.lower() in SPLIT_ALIASES and class_dirs(d)]


class FoldersFormat:
    name = "folders"
    title = "Class folders (classification)"
    not_found = "no class folders holding images"
    layouts = (
        "`<class>/<image>` (images in nested folders of a class count for it)",
        "`<split>/<class>/<image>` with split folders such as `train/`, `val/`, `valid/`, `test/`",
    )

    def find(self, path: Path, roots: list[Path]) -> list[Source]:
        if not is_dir(path):
            return []
        splits = split_folders(path)
        tops = [(split_name(d.name), d) for d in splits] or [(None, path)]
        found = []
        for split, top in tops:
            with_images = [c.name for c in class_dirs(top) if has_images(c)]
            if with_images:
                found.append((split, top, f"class folders {', '.join(with_images[:3])}"))
        # one class list for every split, so class indices agree across them
        names = tuple(sorted({c.name for _, top, _ in found for c in class_dirs(top)}))
        return [
            Source("folders", top, split, evidence, options=(("classes", names),)) for split, top, evidence in found
        ]

    def load(self, source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
        return load(source, progress, roots)


FORMAT = FoldersFormat()


def load(source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
    top = source.path
    root = top.parent if source.split is not None else top
    class_names = list(source.option("classes") or [c.name for c in class_dirs(top)])
    if not class_names:
        raise IngestError(f"{top}: no class folders (expected {top.name}/<class>/<image>)")
    index = {name: i for i, name in enumerate(class_names)}
    issues = Issues()
    entries = []
    for folder in class_dirs(top):
        cls = index[folder.name]
        for file in walk_files(folder):
            if is_image_name(file.name):
                entries.append((cls, file))
            else:
                issues.skip("not_an_image_file", str(file))
    if not entries:
        raise IngestError(f"{top}: the class folders hold no image files")
    s_cols: dict[str, list] = {k: [] for k in SAMPLES_SCHEMA.names}
    a_cols: dict[str, list] = {k: [] for k in ANNOTATIONS_SCHEMA.names}
    for done, (cls, path) in enumerate(entries):
        rel = path.relative_to(root).as_posix()
        try:
            width, height = image_size(path, roots, rel)
        except paths.PathNotAllowed:
            raise
        except DataVisorError as error:  # undecodable (or vanished while we looked): say so, go on
            issues.skip("undecodable_image", str(error))
            continue
        idx = len(s_cols["file_name"])
        for key, value in (
            ("file_name", rel),
            ("path", str(path)),
            ("width", width),
            ("height", height),
            ("split", source.split),
            ("source_id", idx),
        ):
            s_cols[key].append(value)
        for key, value in (
            ("sample_idx", idx),
            ("category_idx", cls),
            ("x", 0.0),
            ("y", 0.0),
            ("w", float(width)),
            ("h", float(height)),
            ("area", float(width * height)),
            ("iscrowd", False),
            ("source_id", None),
        ):
            a_cols[key].append(value)
        if done % 200 == 0:
            progress(done, len(entries), "reading images")
    parsed = from_columns(s_cols, a_cols, class_names)
    parsed.issues = issues
    return parsed
