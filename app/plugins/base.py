"""BasePlugin: subclass it in a package under the plugin directory and expose an instance as `plugin`.

    # plugins/my_plugin/__init__.py
    from app.plugins import BasePlugin

    class MyPlugin(BasePlugin):
        name = "my_plugin"
        api_version = 1

        def on_sample_ingested(self, ctx, sample):
            sample.fields["answer"] = 42
            return sample

    plugin = MyPlugin()

Read a sample's pixels with `sample.image()` (never open `sample.path` yourself): it is confined to
the data roots, in displayed orientation (EXIF applied) and 8-bit RGB whatever the file's bit depth,
and raises an `app.errors.DataVisorError` naming the file when it is missing or not decodable.

Every hook is optional. A hook that raises is logged and skipped; it never stops an import or the
server. `on_sample_ingested` runs once per sample on the import thread, so keep it cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

API_VERSION = 1


@dataclass
class Sample:
    """A sample as importers produce it, before it is written. Plugins may change `fields` and `tags`."""

    file_name: str
    path: Path
    width: int | None
    height: int | None
    split: str | None = None
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    annotation_count: int = 0
    # The data roots the sample's file must lie in (set by the importer); `image()` enforces them.
    roots: list[Path] = field(default_factory=list, repr=False)

    def image(self, max_edge: int | None = None) -> Image.Image:
        """The picture as displayed, 8-bit RGB; `max_edge` shrinks it (cheaply for JPEGs)."""
        from app.services.pixels import load_rgb

        draft = (max_edge, max_edge) if max_edge else None
        picture = load_rgb(self.path, self.roots, self.file_name, draft=draft)
        if max_edge:
            picture.thumbnail((max_edge, max_edge))
        return picture


@dataclass
class IngestContext:
    dataset_id: int
    dataset_name: str
    format: str
    path: Path
    total: int | None = None


class BasePlugin:
    name: str = "unnamed"
    api_version: int = API_VERSION
    description: str = ""

    def on_startup(self, settings: Any) -> None:
        """Called once after the database is open."""

    def on_shutdown(self) -> None:
        """Called once before services close; release what on_startup acquired."""

    def on_ingest_started(self, ctx: IngestContext) -> None:
        """An import is about to read `ctx.total` samples into dataset `ctx.dataset_id`."""

    def on_sample_ingested(self, ctx: IngestContext, sample: Sample) -> Sample | None:
        """Inspect or change one sample before it is stored. Return the sample (or None to keep it as is)."""
        return sample

    def on_ingest_completed(self, ctx: IngestContext, summary: dict[str, Any]) -> None:
        """The import committed; `summary` holds its counts."""
