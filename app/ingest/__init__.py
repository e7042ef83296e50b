"""Importers, one module per format, all producing the same `ParsedDataset` (Arrow tables).

Each format module (`coco.py`, `yolo.py`, `folders.py`) exposes `FORMAT`, an object of the `Format`
protocol below: `find` says whether a tree looks like the format (and returns its parts, one per
split), `load` reads one part, and `export` (where the format has one) writes it back. `formats.py`
is the registry: detection, the API's list of formats and the README table all come from it, so a
new format touches one module plus its tests.

Importers never write: `app.services.datasets` assigns ids and writes everything in one transaction.
A malformed input raises `IngestError` reading `<file>: <what> (<entry or line>)`. Whatever an
importer cannot use (an unsupported annotation kind, an undecodable image, a label file without an
image) is counted per reason in `ParsedDataset.issues`, never dropped silently; images that cannot be
found are counted there too (`check_images`).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.errors import Invalid
from app.services import paths

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Split folder / file names as they appear in common layouts, and the split name we store.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "train2014": "train",
    "train2017": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "val2014": "val",
    "val2017": "val",
    "test": "test",
    "testing": "test",
    "test2017": "test",
}

SAMPLES_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("path", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("split", pa.string()),
        ("source_id", pa.int64()),
    ]
)
ANNOTATIONS_SCHEMA = pa.schema(
    [
        ("sample_idx", pa.int64()),
        ("category_idx", pa.int64()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("w", pa.float64()),
        ("h", pa.float64()),
        ("area", pa.float64()),
        ("iscrowd", pa.bool_()),
        ("source_id", pa.int64()),
    ]
)
CATEGORIES_SCHEMA = pa.schema([("source_id", pa.int64()), ("name", pa.string()), ("supercategory", pa.string())])

# Folder names that describe a layout, never a class (compared lower-case).
LAYOUT_FOLDERS = frozenset(
    {
        "images",
        "image",
        "imgs",
        "img",
        "labels",
        "label",
        "labeltxt",
        "annotations",
        "annotation",
        "annots",
        "jpegimages",
        "imagesets",
        "segmentationclass",
        "segmentationobject",
        "masks",
        "obj_train_data",
        "obj_valid_data",
        "obj_test_data",
        "backup",
        "__macosx",
    }
)
EXAMPLES = 10  # first paths kept per reason

# Ids of COCO files (images, categories, annotations, results) are read as JSON and checked with these
# before they are cast: read as BIGINT, DuckDB rounded 1.5 to 2 and took "42" for 42 without a word
# (pycocotools compares ids as Python numbers: 42.0 is 42, "42" and 1.5 are no image).
INTEGER_JSON = (
    "((json_type({c}) IN ('BIGINT', 'UBIGINT') AND try_cast({c} AS BIGINT) IS NOT NULL) "
    "OR (json_type({c}) = 'DOUBLE' AND {c}::DOUBLE = round({c}::DOUBLE) AND abs({c}::DOUBLE) < 9e18))"
)
BIGINT_OF_JSON = "CASE WHEN json_type({c}) = 'DOUBLE' THEN {c}::DOUBLE::BIGINT ELSE {c}::BIGINT END"

Progress = Callable[[int, int | None, str], None]


class IngestError(Invalid):
    """A malformed input; the message names the file and the problem and is shown to the user."""


@dataclass
class Issues:
    """What an import could not use. Reported in the job result and as `issues` of the dataset."""

    missing: int = 0
    missing_examples: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, example: str, count: int = 1) -> None:
        self.skipped[reason] += count
        examples = self.skipped_examples.setdefault(reason, [])
        if len(examples) < EXAMPLES:
            examples.append(example)

    def miss(self, path: str) -> None:
        self.missing += 1
        if len(self.missing_examples) < EXAMPLES:
            self.missing_examples.append(path)

    def merge(self, other: Issues) -> None:
        self.missing += other.missing
        self.missing_examples = (self.missing_examples + other.missing_examples)[:EXAMPLES]
        for reason, count in other.skipped.items():
            self.skipped[reason] += count
            mine = self.skipped_examples.setdefault(reason, [])
            mine.extend(other.skipped_examples.get(reason, [])[: EXAMPLES - len(mine)])

    def public(self) -> dict[str, Any]:
        return {
            "missing_images": self.missing,
            "missing_examples": list(self.missing_examples),
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_examples": {k: list(v) for k, v in sorted(self.skipped_examples.items())},
        }


@dataclass
class ParsedDataset:
    """What an importer read. Annotations point at samples and categories by row index."""

    samples: pa.Table
    annotations: pa.Table
    categories: pa.Table
    info: dict = field(default_factory=dict)
    issues: Issues = field(default_factory=Issues)
    images_dir: Path | None = None  # the folder image file names are relative to, where there is one
    searched: tuple[Path, ...] = ()  # other folders the images were looked for in (named if none is found)


@dataclass
class ExportData:
    """What an exporter writes, read from the current tables (edited ground truth included), with the
    source's ids: image ids, category ids and annotation ids as imported (app/services/export.py)."""

    name: str
    info: dict | None
    images: list[tuple]  # (image_id, file_name, width, height, split)
    categories: list[tuple]  # (category_id, name, supercategory), by id
    annotations: list[tuple]  # (annotation_id, image_id, category_id, x, y, w, h, area, iscrowd)


@dataclass(frozen=True)
class Source:
    """One part of a dataset (usually one split) as a format's `find` saw it."""

    format: str
    path: Path
    split: str | None
    evidence: str  # what made the tree look like the format (named when detection is ambiguous)
    images_dir: Path | None = None  # chosen by the user, or by the format
    candidates: tuple[Path, ...] = ()  # where the images may be, best first (COCO)
    options: tuple[tuple[str, Any], ...] = ()  # format specifics (YOLO class names, list files)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


class Format(Protocol):
    name: str
    title: str
    layouts: tuple[str, ...]  # what `find` recognises, one line each (README, errors)
    not_found: str  # the 422 when format=<name> is asked for and `find` finds nothing

    def find(self, path: Path, roots: list[Path]) -> list[Source]:
        """The parts of `path` if it looks like this format, else []; IngestError if it is broken."""
        ...

    def load(self, source: Source, progress: Progress, roots: list[Path]) -> ParsedDataset: ...


_ROOTS: ContextVar[list[Path] | None] = ContextVar("ingest_roots", default=None)
_UNNAMED: ContextVar[set[str] | None] = ContextVar("ingest_unnamed", default=None)
NOT_UTF8 = "file_name_not_utf8"  # the skip reason of a file or folder whose name is not UTF-8


@contextmanager
def not_utf8_names() -> Iterator[set[str]]:
    """Collects, while active, every entry `scan` leaves out because its name is not UTF-8 (shown with
    U+FFFD for the bytes that are not), so the import can count them instead of only logging them."""
    found: set[str] = set()
    token = _UNNAMED.set(found)
    try:
        yield found
    finally:
        _UNNAMED.reset(token)


@contextmanager
def confined_to(roots: list[Path]) -> Iterator[None]:
    """Every folder `scan` lists while this is active must resolve inside `roots` (symlinks followed)."""
    token = _ROOTS.set([Path(os.path.realpath(r)) for r in roots])
    try:
        yield
    finally:
        _ROOTS.reset(token)


def scan(folder: Path) -> Iterator[os.DirEntry]:
    """Entries of a folder, sorted by name; an unreadable folder yields nothing.

    Inside `confined_to` (detection and loading of an import), a folder that resolves outside the data
    roots (a symlinked class folder, `images -> /elsewhere`) is refused before it is listed: walking it
    told the names inside it to whoever chose the link. Names that are not UTF-8 are left out (and
    logged, and counted by the import: `not_utf8_names`): such a file can be neither stored nor named
    (`paths.is_utf8_name`; the import failed on it).
    """
    roots = _ROOTS.get()
    if roots is not None and not paths.is_inside(Path(os.path.realpath(folder)), roots):
        raise paths.PathNotAllowed(f"{paths.shown(folder)}: a folder that resolves outside the allowed data roots")
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (OSError, ValueError):
        return
    for entry in entries:
        if paths.is_utf8_name(entry.name):
            yield entry
        else:
            logger.warning("%s: skipped %r, its name is not UTF-8", folder, entry.name)
            unnamed = _UNNAMED.get()
            if unnamed is not None:
                unnamed.add(os.path.join(folder, os.fsencode(entry.name).decode("utf-8", "replace")))


def is_dir(entry: os.DirEntry | Path) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def is_file(entry: os.DirEntry | Path) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _folder_key(folder: Path) -> tuple[int, int] | None:
    """The folder's identity (device, inode), symlinks followed; None if it cannot be stat-ed."""
    try:
        info = os.stat(folder)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def walk_files(folder: Path) -> Iterator[Path]:
    """Every file below `folder` (nested folders too), sorted, hidden entries left out.

    Each folder is walked once: symlinks back up the tree (`cat/loop -> .`) would otherwise make the walk
    grow exponentially with their number, and the import never end (nor see its cancellation). The walk
    keeps its own stack: a tree 1,000+ folders deep was a RecursionError.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Iterator[os.DirEntry]] = []

    def enter(path: Path) -> None:
        key = _folder_key(path)
        if key is not None and key not in seen:
            seen.add(key)
            stack.append(scan(path))

    enter(folder)
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif entry.name.startswith("."):
            continue
        elif is_dir(entry):
            enter(Path(entry.path))
        elif is_file(entry):
            yield Path(entry.path)


def has_images(folder: Path, depth: int = 6, _seen: set[tuple[int, int]] | None = None) -> bool:
    """Any image file below `folder` (stops at the first one; each folder looked at once, as above)."""
    seen = set() if _seen is None else _seen
    key = _folder_key(folder)
    if key is None or key in seen:
        return False
    seen.add(key)
    for entry in scan(folder):
        if entry.name.startswith("."):
            continue
        if is_file(entry) and is_image_name(entry.name):
            return True
        if depth and is_dir(entry) and has_images(Path(entry.path), depth - 1, seen):
            return True
    return False


def check_images(parsed: ParsedDataset, roots: list[Path], progress: Progress, require: bool = True) -> None:
    """Resolve every image file (stat, never decode): outside the roots fails the import; missing ones
    are counted in `parsed.issues`, and when none is found the import fails saying where it looked
    (unless `require` is false: an annotations-only import for evaluation)."""
    from app.services.paths import FileMissing, confine, shown

    paths = parsed.samples.column("path").to_pylist()
    names = parsed.samples.column("file_name").to_pylist()
    resolved_dirs: dict[str, Path] = {}
    found = 0
    for i, (path, name) in enumerate(zip(paths, names, strict=True)):
        folder, base = os.path.split(path)
        try:
            real_dir = resolved_dirs.get(folder)
            if real_dir is None:
                real_dir = resolved_dirs[folder] = confine(folder, roots, name) if _exists(folder) else Path(folder)
            try:
                info = os.lstat(os.path.join(real_dir, base))
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG:  # nothing can be at such a path
                    info = None
                else:
                    raise
            if info is not None and stat.S_ISLNK(info.st_mode):
                confine(path, roots, name)  # a symlinked file: where it points must be inside too
                info = os.stat(path)
            if info is not None and stat.S_ISREG(info.st_mode):
                found += 1
            else:
                parsed.issues.miss(path)
        except FileMissing:
            parsed.issues.miss(path)
        except (OSError, ValueError):  # ValueError: a NUL in a listed name (e.g. a YOLO .txt image list)
            parsed.issues.miss(path)
        if i % 5000 == 0:
            progress(i, len(paths), "checking image files")
    if paths and not found and require:
        looked = sorted({os.path.dirname(p) for p in paths} | {str(d) for d in parsed.searched})
        where = ", ".join(shown(d) for d in looked[:3]) + (f" and {len(looked) - 3} more" if len(looked) > 3 else "")
        raise IngestError(
            f"none of the {len(paths)} image files was found; looked in {where} "
            f"(first: {shown(paths[0])}); pass images_dir if the images are elsewhere, or annotations_only "
            "to import the boxes without images"
        )


def _exists(folder: str) -> bool:
    try:
        return os.path.isdir(folder)
    except (OSError, ValueError):
        return False


def from_columns(samples: dict[str, list], annotations: dict[str, list], class_names: list[str]) -> ParsedDataset:
    """A ParsedDataset from column lists, with categories numbered by class index (YOLO, folders)."""
    categories = pa.table(
        {"source_id": list(range(len(class_names))), "name": class_names, "supercategory": [None] * len(class_names)},
        schema=CATEGORIES_SCHEMA,
    )
    return ParsedDataset(
        pa.table(samples, schema=SAMPLES_SCHEMA), pa.table(annotations, schema=ANNOTATIONS_SCHEMA), categories
    )


def image_size(path: Path, roots: list[Path], entry: str) -> tuple[int, int]:
    """Displayed width and height (EXIF orientation applied) from the header of a confined file."""
    from app.services.pixels import displayed_size

    return displayed_size(path, roots, entry)


def split_name(name: str) -> str:
    return SPLIT_ALIASES.get(name.lower(), name)


def concat(parts: list[ParsedDataset]) -> ParsedDataset:
    """Merge parts (splits) into one dataset; categories are merged by (source id, name)."""
    if len(parts) == 1:
        return parts[0]
    issues = Issues()
    for part in parts:
        issues.merge(part.issues)
    categories: dict[int, tuple[str, str | None]] = {}
    for part in parts:
        columns = (part.categories.column(c).to_pylist() for c in CATEGORIES_SCHEMA.names)
        for cid, name, sup in zip(*columns, strict=True):
            known = categories.get(cid)
            if known is not None and known[0] != name:
                raise IngestError(f"category id {cid} is called {known[0]!r} in one split and {name!r} in another")
            categories.setdefault(cid, (name, sup))
    ordered = sorted(categories)
    index = {cid: i for i, cid in enumerate(ordered)}
    samples, annotations, offset = [], [], 0

    for part in parts:
        samples.append(part.samples)
        mapping = np.array([index[c] for c in part.categories.column("source_id").to_pylist()], dtype=np.int64)
        ann = part.annotations
        if ann.num_rows:
            cat_idx = mapping[ann.column("category_idx").to_numpy()]
            ann = ann.set_column(1, "category_idx", pa.array(cat_idx, pa.int64()))
            ann = ann.set_column(0, "sample_idx", pc.add(ann.column("sample_idx"), offset))
        annotations.append(ann)
        offset += part.samples.num_rows
    cats = pa.table(
        {
            "source_id": pa.array(ordered, pa.int64()),
            "name": [categories[c][0] for c in ordered],
            "supercategory": [categories[c][1] for c in ordered],
        },
        schema=CATEGORIES_SCHEMA,
    )
    info = parts[0].info
    dirs = {p.images_dir for p in parts}
    images_dir = dirs.pop() if len(dirs) == 1 else None
    return ParsedDataset(pa.concat_tables(samples), pa.concat_tables(annotations), cats, info, issues, images_dir)
