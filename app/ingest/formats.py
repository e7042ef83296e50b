"""The format registry: which formats exist, which one a path holds, and reading all of its parts.

`FORMATS` lists the format modules in detection order. `auto` asks every format whether the tree
looks like it; one answer wins, several are a 422 naming the candidates (pass `format` to choose),
none is a 422 listing what `auto` recognises. The API's list of formats (`CHOICES`), the exporters
(`EXPORTERS`) and the README table (`readme_table()`, checked by tests/unit/test_ingest_layouts.py) come
from here. `split` selects one split of a dataset that has several, and labels every sample of a
dataset that has none (or only one).

    python -m app.ingest.formats   # prints the README table
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from app.ingest import (
    NOT_UTF8,
    Format,
    IngestError,
    ParsedDataset,
    Progress,
    Source,
    check_images,
    coco,
    concat,
    confined_to,
    folders,
    not_utf8_names,
    yolo,
)
from app.ingest import split_name as normalise_split
from app.services.paths import kind_of, shown

FORMATS: dict[str, Format] = {f.name: f for f in (coco.FORMAT, yolo.FORMAT, folders.FORMAT)}
CHOICES: tuple[str, ...] = (*FORMATS, "auto")
EXPORTERS = {name: f for name, f in FORMATS.items() if hasattr(f, "export")}
EXPORT_CHOICES: tuple[str, ...] = tuple(EXPORTERS)
# Formats whose image ids are made up at import (row numbers): renumbered over all splits.
SYNTHETIC_IDS = frozenset({"yolo", "folders"})


def _expected() -> str:
    return "; ".join(f"{f.name}: {' | '.join(f.layouts)}" for f in FORMATS.values())


def detect(fmt: str, path: Path, images_dir: Path | None, split: str | None, roots: list[Path]) -> list[Source]:
    """The parts to import. Raises IngestError when `path` does not hold `fmt` (or, for auto, any
    format, or more than one); PathNotAllowed for a folder on the way that leads out of `roots`."""
    with confined_to(roots):
        return _detect(fmt, path, images_dir, split, roots)


def _detect(fmt: str, path: Path, images_dir: Path | None, split: str | None, roots: list[Path]) -> list[Source]:
    try:
        kind = kind_of(path)
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - FileMissing and friends: say it plainly
        raise IngestError(f"{shown(path)}: does not exist") from None
    if kind == "other":
        raise IngestError(f"{shown(path)}: not a regular file or folder")
    if fmt != "auto":
        if fmt not in FORMATS:
            raise IngestError(f"unknown format {fmt!r}; expected one of {', '.join(CHOICES)}")
        sources = FORMATS[fmt].find(path, roots)
        if not sources:
            raise IngestError(f"{shown(path)}: {FORMATS[fmt].not_found}")
    else:
        found = {name: f.find(path, roots) for name, f in FORMATS.items()}
        matches = {name: parts for name, parts in found.items() if parts}
        if "folders" in matches and len(matches) > 1 and _only_image_folders(matches, path):
            del matches["folders"]
        if not matches:
            if kind == "file":
                raise IngestError(f"{path.name}: cannot detect the format of this file (expected a COCO .json)")
            raise IngestError(f"{shown(path)}: cannot detect the format; auto recognises {_expected()}")
        if len(matches) > 1:
            named = "; ".join(f"{name} ({parts[0].evidence})" for name, parts in matches.items())
            raise IngestError(f"{shown(path)}: ambiguous layout: looks like {named}; pass format to choose one")
        sources = next(iter(matches.values()))
    if images_dir is not None:
        if len(sources) > 1:
            listed = ", ".join(shown(s.path) for s in sources)
            raise IngestError(
                f"{shown(path)}: images_dir applies to one annotation file; found {len(sources)} ({listed})"
            )
        sources = [_with(sources[0], images_dir=images_dir)]
    if split is not None:
        wanted = normalise_split(split)
        have = [s.split for s in sources]
        if len(sources) > 1 and any(have):
            chosen = [s for s in sources if s.split == wanted]
            if not chosen:
                listed = ", ".join(sorted({str(h) for h in have}))
                raise IngestError(f"{shown(path)}: no split {split!r} in this dataset (it has {listed}) (split)")
            sources = chosen
        else:
            sources = [_with(s, split=wanted) for s in sources]
    return sources


def _only_image_folders(matches: dict[str, list[Source]], root: Path) -> bool:
    """True when every 'class folder' is an image folder of the other candidate (COCO 2017's
    train2017/, Roboflow's train/): such a tree is that format, not a classification tree."""
    claimed: set[Path] = set()
    for name, parts in matches.items():
        if name == "folders":
            continue
        for s in parts:
            folders_of = [*s.candidates, s.path.parent, s.images_dir, s.option("entry")]
            for folder in folders_of:
                while isinstance(folder, Path) and folder != root and folder.is_relative_to(root):
                    claimed.add(folder)
                    folder = folder.parent
    classes = [c for s in matches["folders"] for c in folders.class_dirs(s.path) if folders.has_images(c)]
    return all(c in claimed for c in classes)


def _with(source: Source, **changes: object) -> Source:
    from dataclasses import replace

    return replace(source, **changes)


def load(sources: list[Source], progress: Progress, roots: list[Path], require_images: bool = True) -> ParsedDataset:
    with confined_to(roots), not_utf8_names() as unnamed:
        parts = [FORMATS[s.format].load(s, progress, roots) for s in sources]
    parsed = concat(parts)
    for example in sorted(unnamed):  # left out by the walk; counted, never only logged
        parsed.issues.skip(NOT_UTF8, example)
    if sources[0].format in SYNTHETIC_IDS and len(parts) > 1:
        n = parsed.samples.num_rows
        column = parsed.samples.schema.get_field_index("source_id")
        parsed.samples = parsed.samples.set_column(column, "source_id", pa.array(np.arange(n, dtype=np.int64)))
    check_images(parsed, roots, progress, require_images)
    return parsed


def readme_table() -> str:
    """The README's formats table (Markdown), from the registry."""
    rows = ["| `format` | What | Layouts `auto` recognises |", "| --- | --- | --- |"]
    for f in FORMATS.values():
        rows.append(f"| `{f.name}` | {f.title} | {'<br>'.join(f.layouts)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
