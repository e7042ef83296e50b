"""Example plugin: adds `brightness` (mean luminance, 0-255) and a `dark` / `overexposed` tag at import.

Cheap by design: `sample.image(64)` decodes JPEGs at 1/8 scale and shrinks everything to at most
64 px before averaging, so it costs a fraction of a millisecond per image. The pixels come already
scaled to 8 bits (a mid-grey 16-bit PNG measures about 128, not 255) and in displayed orientation.
"""

from __future__ import annotations

from PIL import ImageStat

from app.errors import DataVisorError
from app.plugins import BasePlugin, IngestContext, Sample

DARK_BELOW = 40.0
OVEREXPOSED_ABOVE = 215.0


def mean_luminance(sample: Sample) -> float:
    return float(ImageStat.Stat(sample.image(64).convert("L")).mean[0])


class BrightnessPlugin(BasePlugin):
    name = "brightness"
    api_version = 1
    description = "Mean luminance per image as field `brightness`; tags very dark or overexposed images."

    def on_sample_ingested(self, ctx: IngestContext, sample: Sample) -> Sample:
        try:
            value = round(mean_luminance(sample), 2)
        except DataVisorError:  # missing, outside the roots or undecodable: the import reports those
            return sample
        sample.fields["brightness"] = value
        if value < DARK_BELOW:
            sample.tags.append("dark")
        elif value > OVEREXPOSED_ABOVE:
            sample.tags.append("overexposed")
        return sample


plugin = BrightnessPlugin()
