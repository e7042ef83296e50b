"""Example plugin: adds `brightness` (mean luminance, 0-255) and a `dark` / `overexposed` tag at import.

Cheap by design: JPEGs are decoded at 1/8 scale (`Image.draft`) and everything else is shrunk to at
most 64 px before averaging, so it costs a fraction of a millisecond per image.
"""

from __future__ import annotations

from PIL import Image, ImageStat

from app.plugins import BasePlugin, IngestContext, Sample

DARK_BELOW = 40.0
OVEREXPOSED_ABOVE = 215.0


def mean_luminance(path) -> float:
    with Image.open(path) as image:
        image.draft("L", (64, 64))
        gray = image.convert("L")
        gray.thumbnail((64, 64))
        return float(ImageStat.Stat(gray).mean[0])


class BrightnessPlugin(BasePlugin):
    name = "brightness"
    api_version = 1
    description = "Mean luminance per image as field `brightness`; tags very dark or overexposed images."

    def on_sample_ingested(self, ctx: IngestContext, sample: Sample) -> Sample:
        if not sample.path.is_file():  # annotation-only datasets have no pixels to measure
            return sample
        value = round(mean_luminance(sample.path), 2)
        sample.fields["brightness"] = value
        if value < DARK_BELOW:
            sample.tags.append("dark")
        elif value > OVEREXPOSED_ABOVE:
            sample.tags.append("overexposed")
        return sample


plugin = BrightnessPlugin()
