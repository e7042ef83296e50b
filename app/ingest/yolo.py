"""YOLO detection datasets: `data.yaml` (or `classes.txt`), images/ and labels/ with normalised boxes.

Layouts: `images/<split>/` + `labels/<split>/`, `<split>/images/` + `<split>/labels/`, or a flat
`images/` + `labels/`. A `data.yaml` split entry may be a folder, a list of folders or a .txt list of
image files. Image sizes come from the image headers (YOLO boxes are relative to them).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from app.ingest import (
    ANNOTATIONS_SCHEMA,
    IMAGE_SUFFIXES,
    SAMPLES_SCHEMA,
    IngestError,
    ParsedDataset,
    Progress,
    from_columns,
    image_size,
    split_name,
)
from app.services.paths import read_text

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
SPLIT_KEYS = ("train", "val", "valid", "test")


def find_yaml(root: Path) -> Path | None:
    for name in YAML_NAMES:
        if (root / name).is_file():
            return root / name
    found = sorted(p for p in root.glob("*.y*ml") if p.is_file())
    return found[0] if found else None


def looks_like_yolo(root: Path) -> bool:
    if find_yaml(root) is not None:
        return True
    return (root / "classes.txt").is_file() and (root / "labels").is_dir()


def _names(root: Path, roots: list[Path]) -> tuple[list[str], dict, Path | None]:
    config_file = find_yaml(root)
    if config_file is None:
        classes = root / "classes.txt"
        if not classes.is_file():
            raise IngestError(f"{root}: no data.yaml and no classes.txt: not a YOLO dataset")
        names = [line.strip() for line in read_text(classes, roots).splitlines() if line.strip()]
        return names, {}, None
    try:
        config = yaml.safe_load(read_text(config_file, roots))
    except yaml.YAMLError as error:
        raise IngestError(f"{config_file.name}: not valid YAML ({error})") from None
    if not isinstance(config, dict) or "names" not in config:
        raise IngestError(f"{config_file.name}: no 'names' entry listing the classes")
    raw = config["names"]
    if isinstance(raw, dict):
        try:
            keys = sorted(int(k) for k in raw)
        except ValueError:
            raise IngestError(f"{config_file.name}: 'names' keys must be class indices") from None
        if keys != list(range(len(keys))):
            raise IngestError(f"{config_file.name}: 'names' indices must be 0..{len(keys) - 1}")
        names = [str(raw[k] if k in raw else raw[str(k)]) for k in keys]
    elif isinstance(raw, list):
        names = [str(n) for n in raw]
    else:
        raise IngestError(f"{config_file.name}: 'names' must be a list or a mapping of index to name")
    if not names:
        raise IngestError(f"{config_file.name}: 'names' is empty")
    return names, config, config_file


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):  # the last 'images' component becomes 'labels'
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _images_in(entry: Path, roots: list[Path]) -> list[Path]:
    if entry.is_file() and entry.suffix == ".txt":
        base = entry.parent
        return [(base / line.strip()).resolve() for line in read_text(entry, roots).splitlines() if line.strip()]
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    raise IngestError(f"{entry}: listed as a split but is neither a folder nor a .txt list")


def _splits(root: Path, config: dict, forced_split: str | None) -> list[tuple[str | None, Path]]:
    base = root
    if config.get("path"):
        candidate = Path(str(config["path"]))
        base = candidate if candidate.is_absolute() else (root / candidate)
        if not base.is_dir():
            base = root  # exported datasets often carry the author's absolute path: fall back to the root
    found: list[tuple[str | None, Path]] = []
    for key in SPLIT_KEYS:
        value = config.get(key)
        if not value:
            continue
        for item in value if isinstance(value, list) else [value]:
            entry = (base / str(item)).resolve()
            if not entry.exists():
                alt = (root / str(item).lstrip("./")).resolve()
                if not alt.exists():
                    raise IngestError(f"data.yaml: split {key!r} points at {item}, which does not exist")
                entry = alt
            found.append((split_name(key), entry))
    if found:
        return found
    for key in SPLIT_KEYS + ("train2017", "val2017"):
        for entry in (root / "images" / key, root / key / "images"):
            if entry.is_dir():
                found.append((split_name(key), entry))
    if found:
        return found
    if (root / "images").is_dir():
        return [(forced_split, root / "images")]
    raise IngestError(f"{root}: no images/ folder and no split folders (train/, val/, test/)")


def load(root: Path, split: str | None, progress: Progress, roots: list[Path]) -> ParsedDataset:
    names, config, _ = _names(root, roots)
    splits = _splits(root, config, split)
    images: list[tuple[str | None, Path]] = []
    for split_value, entry in splits:
        images.extend((split_value if len(splits) > 1 or split is None else split, p) for p in _images_in(entry, roots))
    if not images:
        raise IngestError(f"{root}: no image files found")
    s_cols: dict[str, list] = {k: [] for k in SAMPLES_SCHEMA.names}
    a_cols: dict[str, list] = {k: [] for k in ANNOTATIONS_SCHEMA.names}
    for idx, (split_value, path) in enumerate(images):
        rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        width, height = image_size(path, roots, f"{rel}")
        s_cols["file_name"].append(rel.as_posix())
        s_cols["path"].append(str(path))
        s_cols["width"].append(width)
        s_cols["height"].append(height)
        s_cols["split"].append(split_value)
        s_cols["source_id"].append(idx)
        label = _label_path(path)
        if label.is_file():
            label_name = label.relative_to(root).as_posix() if label.is_relative_to(root) else label.name
            for line_no, line in enumerate(read_text(label, roots).splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 5:
                    raise IngestError(
                        f"{label_name} line {line_no}: expected 'class cx cy w h' (5 numbers), got {len(fields)}"
                        + (" (segmentation polygons are not supported)" if len(fields) > 5 else "")
                    )
                try:
                    cls = int(fields[0])
                    cx, cy, bw, bh = (float(v) for v in fields[1:])
                except ValueError:
                    raise IngestError(f"{label_name} line {line_no}: not numbers: {line.strip()!r}") from None
                if not 0 <= cls < len(names):
                    raise IngestError(
                        f"{label_name} line {line_no}: unknown class {cls} (names has {len(names)} classes)"
                    )
                if min(cx, cy, bw, bh) < 0 or max(cx, cy, bw, bh) > 1.0001:
                    raise IngestError(
                        f"{label_name} line {line_no}: box values must be normalised to 0..1, got {line.strip()!r}"
                    )
                w, h = bw * width, bh * height
                a_cols["sample_idx"].append(idx)
                a_cols["category_idx"].append(cls)
                a_cols["x"].append(max(0.0, cx * width - w / 2))
                a_cols["y"].append(max(0.0, cy * height - h / 2))
                a_cols["w"].append(w)
                a_cols["h"].append(h)
                a_cols["area"].append(w * h)
                a_cols["iscrowd"].append(False)
                a_cols["source_id"].append(None)
        if idx % 200 == 0:
            progress(idx, len(images), "reading images and labels")
    return from_columns(s_cols, a_cols, names)
