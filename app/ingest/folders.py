"""Classification trees: one folder per class (`root/<class>/*.jpg`), optionally under split folders
(`root/train/<class>/...`). Each image gets one ground-truth box covering the whole image, so class
filters, facets and statistics work the same way for every format.
"""

from __future__ import annotations

from pathlib import Path

from app.ingest import (
    ANNOTATIONS_SCHEMA,
    IMAGE_SUFFIXES,
    SAMPLES_SCHEMA,
    SPLIT_ALIASES,
    IngestError,
    ParsedDataset,
    Progress,
    from_columns,
    image_size,
    split_name,
)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())


def split_folders(root: Path) -> list[Path]:
    """Split folders (train/, val/, valid/, test/ ...) holding class folders, if the tree is split."""
    return [d for d in _class_dirs(root) if d.name.lower() in SPLIT_ALIASES and _class_dirs(d)]


def looks_like_folders(root: Path) -> bool:
    tops = split_folders(root) or [root]
    return any(_has_images(c) for top in tops for c in _class_dirs(top))


def load(root: Path, split: str | None, progress: Progress, roots: list[Path]) -> ParsedDataset:
    splits = split_folders(root)
    tops: list[tuple[str | None, Path]] = [(split_name(d.name), d) for d in splits] or [(split, root)]
    class_names = sorted({c.name for _, top in tops for c in _class_dirs(top)})
    if not class_names:
        raise IngestError(f"{root}: no class folders (expected {root.name}/<class>/<image>)")
    class_index = {name: i for i, name in enumerate(class_names)}
    entries = [
        (split_value, class_index[c.name], p)
        for split_value, top in tops
        for c in _class_dirs(top)
        for p in sorted(c.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not entries:
        raise IngestError(f"{root}: the class folders hold no image files")
    s_cols: dict[str, list] = {k: [] for k in SAMPLES_SCHEMA.names}
    a_cols: dict[str, list] = {k: [] for k in ANNOTATIONS_SCHEMA.names}
    for idx, (split_value, cls, path) in enumerate(entries):
        rel = path.relative_to(root).as_posix()
        width, height = image_size(path, roots, rel)
        for key, value in (
            ("file_name", rel),
            ("path", str(path)),
            ("width", width),
            ("height", height),
            ("split", split_value),
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
        if idx % 200 == 0:
            progress(idx, len(entries), "reading images")
    return from_columns(s_cols, a_cols, class_names)
