"""The EfficientNet-Lite0 we wrote loads the shipped ImageNet weights correctly: real photos classify."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from app.services.embeddings.encoder import Encoder, ImageUnreadable, decode_bytes, decode_image
from app.services.embeddings.model import INPUT_MEAN, INPUT_STD, load_efficientnet_lite0

CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968}  # espresso, cup


def _photo(tmp_path: Path, name: str, fmt: str = "JPEG") -> Path:
    path = tmp_path / f"{name}.{fmt.lower()}"
    Image.fromarray(getattr(data, name)()).save(path, fmt, quality=92)
    return path


def _logits(model: torch.nn.Module, pixels: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(pixels[None]).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor(INPUT_MEAN).view(1, 3, 1, 1)) / torch.tensor(INPUT_STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        return model(x)[0]


@pytest.mark.parametrize(("name", "classes"), [("chelsea", CATS), ("coffee", COFFEE)])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_weights_classify_real_photos(tmp_path: Path, name: str, classes: set[int], fmt: str) -> None:
    model = load_efficientnet_lite0()
    logits = _logits(model, decode_image(_photo(tmp_path, name, fmt), [tmp_path]))
    assert int(logits.argmax()) in classes
    assert float(logits.softmax(0)[sorted(classes)].sum()) > 0.5


def test_folded_batchnorm_matches_the_reference_network(tmp_path: Path) -> None:
    reference = load_efficientnet_lite0()
    fused = load_efficientnet_lite0().fuse_for_inference()
    pixels = decode_image(_photo(tmp_path, "chelsea"), [tmp_path])
    assert torch.allclose(_logits(reference, pixels), _logits(fused, pixels), atol=1e-3)
    assert int(_logits(fused, pixels).argmax()) in CATS


def test_default_encoder_gives_unit_vectors_that_tell_photos_apart(tmp_path: Path) -> None:
    encoder = Encoder.default()
    assert (encoder.name, encoder.dim) == ("efficientnet-lite0", 1280)
    cat = decode_image(_photo(tmp_path, "chelsea"), [tmp_path])
    cat_png = decode_image(_photo(tmp_path, "chelsea", "PNG"), [tmp_path])
    coffee = decode_image(_photo(tmp_path, "coffee"), [tmp_path])
    vectors = encoder.embed(np.stack([cat, cat_png, coffee]))
    assert vectors.shape == (3, 1280) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.97  # same photo, JPEG vs PNG
    assert vectors[0] @ vectors[2] < 0.8


def test_torchscript_model_of_another_dimension(tmp_path: Path) -> None:
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.AdaptiveAvgPool2d(1))
    path = tmp_path / "tiny.pt"
    torch.jit.script(module).save(str(path))
    encoder = Encoder.torchscript(path)
    assert encoder.dim == 8 and encoder.name.startswith("torchscript:tiny:")
    out = encoder.embed(np.stack([decode_image(_photo(tmp_path, "coffee"), [tmp_path])]))
    assert out.shape == (1, 8)


def test_non_images_are_refused_with_a_reason() -> None:
    with pytest.raises(ImageUnreadable, match="not a readable image"):
        decode_bytes(b"this is a text file, not a picture")
    with pytest.raises(ImageUnreadable, match="empty"):
        decode_bytes(b"")


def test_bfloat16_keeps_the_classes_and_the_vectors(tmp_path: Path) -> None:
    fp32, bf16 = Encoder.default("float32"), Encoder.default("bfloat16")
    assert bf16.bfloat16 and not fp32.bfloat16
    pixels = [decode_image(_photo(tmp_path, name), [tmp_path]) for name in ("chelsea", "coffee")]
    a, b = fp32.embed(np.stack(pixels)), bf16.embed(np.stack(pixels))
    assert float((a * b).sum(axis=1).min()) > 0.995
    with torch.autocast("cpu", torch.bfloat16):
        assert int(_logits(bf16.module, pixels[0]).argmax()) in CATS
        assert int(_logits(bf16.module, pixels[1]).argmax()) in COFFEE
