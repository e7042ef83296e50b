"""YOLO detection datasets (Ultralytics and Darknet), with normalised `class cx cy w h` label lines;
the YOLO exporter is at the end.

Ultralytics: `data.yaml` (any `*.yaml` with `names`) or `classes.txt`, with `images/<split>/` +
`labels/<split>/`, `<split>/images/` + `<split>/labels/`, or a flat `images/` + `labels/`. A
`data.yaml` split entry may be a folder, a list of folders or a .txt list of image files.
Darknet: `obj.names` (or any `*.names`), `obj.data`, `train.txt` / `valid.txt` lists, images and
their .txt labels side by side in `obj_train_data/`.

Image sizes come from the image headers (YOLO boxes are relative to them), in displayed orientation.
A label line with more than 5 numbers is a polygon (segmentation, OBB): its box is the polygon's
bounding box, as Ultralytics computes it; with `kpt_shape` in data.yaml it is a pose line and its
first four numbers are the box. Skipped and counted: `labelTxt/` OBB files (DOTA), label files
without an image, images whose header cannot be read.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import yaml

from app.errors import DataVisorError, Invalid
from app.ingest import (
    ANNOTATIONS_SCHEMA,
    SAMPLES_SCHEMA,
    ExportData,
    IngestError,
    Issues,
    ParsedDataset,
    Progress,
    Source,
    from_columns,
    image_size,
    is_dir,
    is_file,
    is_image_name,
    scan,
    split_name,
    walk_files,
)
from app.services import paths

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
SPLIT_KEYS = ("train", "val", "valid", "test")
DARKNET_LISTS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
DARKNET_FOLDERS = {"obj_train_data": "train", "obj_valid_data": "val", "obj_test_data": "test"}


def find_yaml(root: Path, roots: list[Path]) -> Path | None:
    for name in YAML_NAMES:
        if is_file(root / name):
            return root / name
    for entry in scan(root):
        if is_file(entry) and entry.name.endswith((".yaml", ".yml")):
            try:
                config = _load_yaml(Path(entry.path), roots)
            except DataVisorError:
                continue
            if isinstance(config, dict) and "names" in config:
                return Path(entry.path)
    return None


def _load_yaml(config_file: Path, roots: list[Path]) -> object:
    """The YAML document of a confined file; invalid or too deeply nested YAML is an IngestError naming it."""
    try:
        return yaml.safe_load(paths.read_text(config_file, roots))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise IngestError(f"{config_file.name}: not valid YAML: {getattr(error, 'problem', error)}{where}") from None
    except RecursionError:  # PyYAML's parser recurses once per nesting level: `[[[[...]]]]`
        raise IngestError(f"{config_file.name}: not valid YAML: nested too deeply (top level)") from None


def _class_name(config_file: Path, index: object, value: object) -> str:
    """A class name is a scalar: a list or mapping (maybe built from aliases, exponentially big) is refused."""
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "a mapping"
        raise IngestError(f"{config_file.name}: the name of class {index} must be text, not {kind} (names)")
    return str(value)


def _names_from_yaml(config_file: Path, roots: list[Path]) -> tuple[list[str], dict]:
    config = _load_yaml(config_file, roots)
    if not isinstance(config, dict) or "names" not in config:
        raise IngestError(f"{config_file.name}: no 'names' entry listing the classes (top level)")
    raw = config["names"]
    if isinstance(raw, dict):
        try:
            keys = sorted(int(k) for k in raw)
        except (TypeError, ValueError):
            raise IngestError(f"{config_file.name}: 'names' keys must be class indices (names)") from None
        if keys != list(range(len(keys))):
            raise IngestError(f"{config_file.name}: 'names' indices must be 0..{len(keys) - 1} (names)")
        names = [_class_name(config_file, k, raw[k] if k in raw else raw[str(k)]) for k in keys]
    elif isinstance(raw, list):
        names = [_class_name(config_file, i, n) for i, n in enumerate(raw)]
    else:
        raise IngestError(f"{config_file.name}: 'names' must be a list or a mapping of index to name (names)")
    if not names:
        raise IngestError(f"{config_file.name}: 'names' is empty (names)")
    return names, config


def _names_from_lines(file: Path, roots: list[Path]) -> list[str]:
    names = [line.strip() for line in paths.read_text(file, roots).splitlines() if line.strip()]
    if not names:
        raise IngestError(f"{file.name}: lists no class names (line 1)")
    return names


def _list_file(entry: Path, root: Path, roots: list[Path]) -> list[Path]:
    """Image paths of a .txt list; relative lines are tried against the list's folder, the root and
    (Darknet writes `data/obj_train_data/x.jpg`) the root with a leading `data/` dropped."""
    out = []
    for line in paths.read_text(entry, roots).splitlines():
        text = line.strip()
        if not text:
            continue
        candidate = Path(text)
        if not candidate.is_absolute():
            tries = [entry.parent / candidate, root / candidate, root.parent / candidate]
            parts = PurePosixPath(text.removeprefix("./")).parts
            if len(parts) > 1 and parts[0] == "data":
                tries.append(root / Path(*parts[1:]))
            candidate = next((t for t in tries if _exists(t)), tries[0])
        out.append(candidate)
    return out


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _ultralytics_parts(root: Path, config: dict, roots: list[Path]) -> list[tuple[str | None, Path]]:
    base = root
    if config.get("path"):
        candidate = Path(str(config["path"]))
        base = candidate if candidate.is_absolute() else (root / candidate)
        if not is_dir(base):
            base = root  # exported datasets often carry the author's absolute path: fall back to the root
    found: list[tuple[str | None, Path]] = []
    for key in SPLIT_KEYS:
        value = config.get(key)
        if not value:
            continue
        for item in value if isinstance(value, list) else [value]:
            entry = base / str(item)
            if not _exists(entry):
                alt = root / str(item).removeprefix("./")
                if not _exists(alt):
                    raise IngestError(f"data.yaml: split {key!r} points at {item}, which does not exist ({key})")
                entry = alt
            found.append((split_name(key), paths.confine(entry, roots, f"split {key} of data.yaml")))
    if found:
        return found
    for key in SPLIT_KEYS + ("train2017", "val2017"):
        for entry in (root / "images" / key, root / key / "images"):
            if is_dir(entry):
                found.append((split_name(key), entry))
    if found:
        return found
    if is_dir(root / "images"):
        return [(None, root / "images")]
    raise IngestError(f"{root}: no images/ folder and no split folders (train/, val/, test/)")


def _darknet_parts(root: Path, roots: list[Path]) -> list[tuple[str | None, Path]]:
    listed: dict[str, str] = {}
    data = root / "obj.data"
    if is_file(data):
        for line in paths.read_text(data, roots).splitlines():
            key, _, value = line.partition("=")
            if key.strip() in DARKNET_LISTS and value.strip():
                listed[key.strip()] = value.strip()
    found: list[tuple[str | None, Path]] = []
    for key, value in listed.items():
        name = PurePosixPath(value).name
        for candidate in (root / value, root / name, root.parent / value):
            if is_file(candidate):
                found.append((DARKNET_LISTS[key], candidate))
                break
    if not found:
        for name, split in DARKNET_LISTS.items():
            if is_file(root / f"{name}.txt"):
                found.append((split, root / f"{name}.txt"))
    if not found:
        for name, split in DARKNET_FOLDERS.items():
            if is_dir(root / name):
                found.append((split, root / name))
    if not found:
        raise IngestError(f"{root}: Darknet class names but no train.txt, valid.txt or obj_train_data/ folder")
    seen: dict[str, tuple[str | None, Path]] = {}
    for split, entry in found:
        seen.setdefault(split or "", (split, entry))
    return list(seen.values())


class YoloFormat:
    name = "yolo"
    title = "YOLO (Ultralytics, Darknet)"
    not_found = "not a YOLO dataset (no data.yaml, no classes.txt with labels/, no Darknet obj.names)"
    layouts = (
        "`data.yaml` (or any `*.yaml` with `names`) with its splits; else `images/<split>/` + `labels/<split>/`, "
        "`<split>/images/` + `<split>/labels/`, or `images/` + `labels/`",
        "`classes.txt` with `images/` + `labels/`",
        "Darknet: `obj.names` (or `*.names`), `obj.data`, `train.txt` / `valid.txt`, `obj_train_data/`",
    )

    def find(self, path: Path, roots: list[Path]) -> list[Source]:
        if not is_dir(path):
            return []
        config_file = find_yaml(path, roots)
        if config_file is not None:
            names, config = _names_from_yaml(config_file, roots)
            pose = bool(config.get("kpt_shape"))
            parts = _ultralytics_parts(path, config, roots)
            return [self._source(path, s, e, names, config_file.name, "ultralytics", pose) for s, e in parts]
        if is_file(path / "classes.txt") and is_dir(path / "labels"):
            names = _names_from_lines(path / "classes.txt", roots)
            parts = _ultralytics_parts(path, {}, roots)
            return [self._source(path, s, e, names, "classes.txt", "ultralytics", False) for s, e in parts]
        names_file = path / "obj.names"
        if not is_file(names_file):
            names_file = next((Path(e.path) for e in scan(path) if is_file(e) and e.name.endswith(".names")), None)
        if names_file is not None:
            names = _names_from_lines(names_file, roots)
            parts = _darknet_parts(path, roots)
            return [self._source(path, s, e, names, names_file.name, "darknet", False) for s, e in parts]
        return []

    @staticmethod
    def _source(root: Path, split, entry: Path, names: list[str], evidence: str, flavour: str, pose: bool) -> Source:
        options = (("names", tuple(names)), ("entry", entry), ("flavour", flavour), ("pose", pose))
        return Source("yolo", root, split, evidence, options=options)

    def load(self, source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
        return load(source, progress, roots)

    def export(self, data: ExportData) -> Iterator[bytes]:
        return export(data)


FORMAT = YoloFormat()


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):  # the last 'images' component becomes 'labels'
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")  # Darknet: the label sits beside the image


def _images_of(entry: Path, root: Path, roots: list[Path]) -> list[Path]:
    if is_file(entry) and entry.suffix == ".txt":
        return _list_file(entry, root, roots)
    if is_dir(entry):
        return [p for p in walk_files(entry) if is_image_name(p.name)]
    raise IngestError(f"{entry}: listed as a split but is neither a folder nor a .txt list")


def _box(fields: list[str], pose: bool) -> tuple[int, float, float, float, float] | str:
    """(class, cx, cy, w, h) of a label line, or what is wrong with it."""
    try:
        cls_value = float(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        return "not numbers"
    if cls_value != int(cls_value):
        return f"class {fields[0]} is not an integer"
    if len(values) == 4 or (pose and len(values) > 4):
        cx, cy, bw, bh = values[:4]
    elif len(values) >= 6 and len(values) % 2 == 0:  # a polygon: segmentation or OBB corners
        xs, ys = values[0::2], values[1::2]
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        bw, bh = max(xs) - min(xs), max(ys) - min(ys)
    else:
        return f"expected 'class cx cy w h' (5 numbers) or a polygon, got {len(fields)} numbers"
    return int(cls_value), cx, cy, bw, bh


def load(source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset:
    root = source.path
    names = list(source.option("names"))
    pose = bool(source.option("pose"))
    issues = Issues()
    images = _images_of(source.option("entry"), root, roots)
    if not images:
        raise IngestError(f"{source.option('entry')}: no image files found")
    s_cols: dict[str, list] = {k: [] for k in SAMPLES_SCHEMA.names}
    a_cols: dict[str, list] = {k: [] for k in ANNOTATIONS_SCHEMA.names}
    used_labels: set[Path] = set()
    for done, path in enumerate(images):
        rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        label = _label_path(path)
        used_labels.add(label)
        try:
            width, height = image_size(path, roots, "image")
        except paths.PathNotAllowed:
            raise
        except paths.FileMissing:
            issues.miss(str(path))  # listed but absent: no size to place its boxes on
            continue
        except DataVisorError as error:
            issues.skip("undecodable_image", str(error))
            if is_file(label):
                issues.skip("label_file_of_unusable_image", str(label))
            continue
        idx = len(s_cols["file_name"])
        for key, value in (
            ("file_name", rel.as_posix()),
            ("path", str(path)),
            ("width", width),
            ("height", height),
            ("split", source.split),
            ("source_id", idx),
        ):
            s_cols[key].append(value)
        if is_file(label):
            _read_label(label, root, roots, names, pose, idx, width, height, a_cols)
        if done % 200 == 0:
            progress(done, len(images), "reading images and labels")
    _count_orphans(source, root, used_labels, issues)
    parsed = from_columns(s_cols, a_cols, names)
    parsed.issues = issues
    return parsed


def _read_label(
    label: Path,
    root: Path,
    roots: list[Path],
    names: list[str],
    pose: bool,
    idx: int,
    width: int,
    height: int,
    a_cols: dict[str, list],
) -> None:
    label_name = label.relative_to(root).as_posix() if label.is_relative_to(root) else label.name
    for line_no, line in enumerate(paths.read_text(label, roots, label_name).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        box = _box(fields, pose)
        if isinstance(box, str):
            raise IngestError(f"{label_name}: {box}: {line.strip()[:80]!r} (line {line_no})")
        cls, cx, cy, bw, bh = box
        if not 0 <= cls < len(names):
            raise IngestError(f"{label_name}: unknown class {cls}, names has {len(names)} classes (line {line_no})")
        if min(cx, cy, bw, bh) < 0 or max(cx, cy, bw, bh) > 1.0001:
            raise IngestError(f"{label_name}: box values must be normalised to 0..1: {line.strip()!r} (line {line_no})")
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


def _count_orphans(source: Source, root: Path, used: set[Path], issues: Issues) -> None:
    """Label files no image of this part uses, and DOTA/OBB `labelTxt/` files: counted, not read."""
    entry = source.option("entry")
    if is_dir(entry):
        labels = _label_path(entry / "x.jpg").parent
        if labels != entry and is_dir(labels):
            for file in walk_files(labels):
                if file.suffix == ".txt" and file not in used:
                    issues.skip("label_without_image", str(file))
        elif labels == entry:  # Darknet: labels beside the images
            for file in walk_files(entry):
                if file.suffix == ".txt" and file not in used:
                    issues.skip("label_without_image", str(file))
    if source.split in (None, "train") or len(used) == 0:
        for folder in (root / "labelTxt", *(Path(e.path) / "labelTxt" for e in scan(root) if is_dir(e))):
            if is_dir(folder):
                for file in walk_files(folder):
                    if file.suffix == ".txt":
                        issues.skip("obb_label_file_labelTxt", str(file))


# -- export -----------------------------------------------------------------------------------------
def export(data: ExportData) -> Iterator[bytes]:
    """A zip: data.yaml (names by class index = category order) and labels/<image path>.txt per image,
    boxes normalised to the stored (displayed) image size. Images are not copied: `path` in data.yaml
    is left for the user, the label tree mirrors the images' file names.

    Boxes of an image without a known size (a COCO image whose file was missing at import) cannot be
    normalised: that is a 422 naming the image, checked before the reply starts; they were left out."""
    sizes = {r[0]: (r[2], r[3]) for r in data.images}
    unsized = sorted({ann[1] for ann in data.annotations if not all(sizes.get(ann[1], (None, None)))})
    if unsized:
        name = next(r[1] for r in data.images if r[0] == unsized[0])
        raise Invalid(
            f"cannot export YOLO: {len(unsized)} images with boxes have no known size (first: {name}, image id "
            f"{unsized[0]}); YOLO boxes are relative to it. Export COCO, or leave those images out with a filter"
        )
    return _zip(data, sizes)


def _zip(data: ExportData, sizes: dict[int, tuple[int, int]]) -> Iterator[bytes]:
    index = {c[0]: i for i, c in enumerate(data.categories)}
    by_image: dict[int, list[str]] = {}
    for ann in data.annotations:
        w_img, h_img = sizes[ann[1]]
        x, y, w, h = ann[3:7]
        line = f"{index[ann[2]]} {(x + w / 2) / w_img:.6f} {(y + h / 2) / h_img:.6f} {w / w_img:.6f} {h / h_img:.6f}"
        by_image.setdefault(ann[1], []).append(line)
    buffer = io.BytesIO()
    splits: dict[str, list[str]] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for image_id, file_name, _, _, split in data.images:
            stem = PurePosixPath(file_name).with_suffix(".txt")
            parts = stem.parts[1:] if stem.parts and stem.parts[0] == "images" else stem.parts
            label = PurePosixPath("labels", *parts)
            archive.writestr(str(label), "".join(f"{line}\n" for line in by_image.get(image_id, [])))
            splits.setdefault(split or "train", []).append(
                str(PurePosixPath("images", *parts).with_suffix(PurePosixPath(file_name).suffix))
            )
        config = {"path": ".", "names": {i: c[1] for i, c in enumerate(data.categories)}}
        for split, files in splits.items():
            archive.writestr(f"{split}.txt", "".join(f"./{f}\n" for f in files))
            config[split] = f"{split}.txt"
        archive.writestr("data.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    yield buffer.getvalue()
