"""Which format a path holds, and its splits; `load` reads every part and merges the splits.

COCO layouts recognised by `auto`: a single .json file; `annotations/instances_<split>.json` next to
`<split>/` image folders (COCO 2017: train2017/, val2017/); `<split>/_annotations.coco.json`
(Roboflow: train/, valid/, test/). YOLO: data.yaml or classes.txt. Folders: class folders, optionally
under split folders. Split names are normalised (train2017 -> train, valid -> val).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.ingest import IngestError, ParsedDataset, Progress, coco, concat, folders, split_name, yolo

FORMATS = ("coco", "yolo", "folders")


@dataclass(frozen=True)
class Source:
    format: str
    path: Path
    images_dir: Path | None
    split: str | None


def _coco_split(ann_file: Path) -> str | None:
    stem = ann_file.stem
    for prefix in ("instances_", "person_keypoints_"):
        if stem.startswith(prefix):
            return split_name(stem.removeprefix(prefix))
    return None


def _coco_sources(root: Path) -> list[Source]:
    sources: list[Source] = []
    annotations = root / "annotations"
    if annotations.is_dir():
        for ann in sorted(annotations.glob("instances_*.json")):
            sources.append(Source("coco", ann, coco.default_images_dir(ann), _coco_split(ann)))
        if not sources:
            files = sorted(annotations.glob("*.json"))
            if len(files) == 1:
                sources.append(Source("coco", files[0], coco.default_images_dir(files[0]), None))
    if not sources:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            ann = folder / "_annotations.coco.json"
            if ann.is_file():
                sources.append(Source("coco", ann, folder, split_name(folder.name)))
    if not sources:
        files = sorted(root.glob("*.json"))
        if len(files) == 1:
            sources.append(Source("coco", files[0], coco.default_images_dir(files[0]), None))
    return sources


def detect(fmt: str, path: Path, images_dir: Path | None, split: str | None) -> list[Source]:
    """The parts to import. Raises IngestError when `path` does not hold `fmt` (or any format for auto)."""
    if not path.exists():
        raise IngestError(f"{path} does not exist")
    if fmt in ("coco", "auto") and path.is_file():
        if path.suffix.lower() != ".json" and fmt == "auto":
            raise IngestError(f"{path.name}: cannot detect the format of this file (expected a COCO .json)")
        chosen = images_dir or coco.default_images_dir(path)
        return [Source("coco", path, chosen, split or _coco_split(path))]
    if path.is_file():
        raise IngestError(f"{path.name}: format {fmt!r} expects a folder, not a file")
    if fmt == "coco" or fmt == "auto":
        sources = _coco_sources(path)
        if sources:
            if images_dir is not None and len(sources) == 1:
                sources = [Source("coco", sources[0].path, images_dir, split or sources[0].split)]
            elif split is not None and len(sources) == 1:
                sources = [Source("coco", sources[0].path, sources[0].images_dir, split)]
            return sources
        if fmt == "coco":
            raise IngestError(f"{path}: no COCO annotation file found (give the .json file as path)")
    if fmt in ("yolo", "auto"):
        if yolo.looks_like_yolo(path):
            return [Source("yolo", path, None, split)]
        if fmt == "yolo":
            raise IngestError(f"{path}: not a YOLO dataset (no data.yaml, or classes.txt with labels/)")
    if fmt in ("folders", "auto"):
        if folders.looks_like_folders(path):
            return [Source("folders", path, None, split)]
        if fmt == "folders":
            raise IngestError(f"{path}: no class folders holding images")
    raise IngestError(
        f"{path}: cannot detect the format (no COCO .json, no YOLO data.yaml, no class folders with images)"
    )


def load(sources: list[Source], progress: Progress, roots: list[Path]) -> ParsedDataset:
    parts: list[ParsedDataset] = []
    for source in sources:
        if source.format == "coco":
            assert source.images_dir is not None
            parts.append(coco.load(source.path, source.images_dir, source.split, progress, roots))
        elif source.format == "yolo":
            parts.append(yolo.load(source.path, source.split, progress, roots))
        elif source.format == "folders":
            parts.append(folders.load(source.path, source.split, progress, roots))
        else:  # pragma: no cover - detect() only yields the formats above
            raise IngestError(f"unknown format {source.format!r}")
    return concat(parts)
