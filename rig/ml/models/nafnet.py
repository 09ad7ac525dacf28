"""A NAFNet-style restoration network (Chen, Chu, Zhang & Sun 2022, "Simple Baselines for
Image Restoration", ECCV), written from the paper for grayscale screen photos.

The paper's block (its Fig. 3c), with no non-linear activation at all:

    x -> LayerNorm -> 1x1 conv (c -> 2c) -> 3x3 depthwise conv -> SimpleGate (2c -> c)
      -> Simplified Channel Attention -> 1x1 conv (c -> c) -> x + beta * (...)
    y -> LayerNorm -> 1x1 conv (c -> 2c) -> SimpleGate -> 1x1 conv (c -> c) -> y + gamma * (...)

SimpleGate splits the channels in two halves and multiplies them; Simplified Channel
Attention (SCA) multiplies the features by a 1x1 conv of their average. beta and gamma
start at 0 (every block starts as the identity), as in the paper. The blocks sit in a
U-shaped encoder/decoder: 2x2 stride-2 convs down, 1x1 conv + PixelShuffle up, skips
added (not concatenated), a global residual around the whole net.

Two departures for rig, both for inference on images far larger than training patches:
- The paper's SCA averages over the whole input, so an image's output depends on its
  size and on the tile it is cut into; at test time the paper's TLC (its follow-up, Chu
  et al. 2022) replaces the global average by a local one of the training patch's size.
  Here that local average is the model itself (``sca_window``, px at full resolution,
  shrinking with each level), trained and applied the same way; the receptive field is
  bounded, so tiled inference is seamless. ``sca_window=0`` is the paper's global SCA.
- A fitted global tone curve in front (as rig's ``dncnn`` / ``unet``): the net learns what
  a curve cannot fix (glare, moiré, blur, noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig


@dataclass(frozen=True)
class NAFNetConfig:
    width: int = 16  # channels at full resolution (doubled per level)
    enc_blocks: tuple[int, ...] = (1, 1, 2)  # blocks per encoder level (one 2x down each)
    middle_blocks: int = 2
    dec_blocks: tuple[int, ...] = (1, 1, 1)  # blocks per decoder level
    image_channels: int = 1
    sca_window: int = 64  # local SCA window at full resolution, px (0: the paper's global SCA)
    tone_front: bool = True


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel (B, C, H, W)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + self.eps)
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    """(B, 2C, H, W) -> (B, C, H, W): one half times the other."""
    a, b = x.chunk(2, dim=1)
    return a * b


def box_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over a ``window``x``window`` box around each pixel (fewer pixels at the
    borders: only those inside the image count), by integral images: O(1) per pixel.
    Slices, not gathers: the backward pass of an index gather is a slow scatter on CPUs."""
    r = window // 2
    h, w = x.shape[-2:]

    def box_sum(t: torch.Tensor) -> torch.Tensor:
        s = F.pad(t, (1, 0, 1, 0)).cumsum(-1).cumsum(-2)  # (B, C, H+1, W+1), s[0] = s[:, 0] = 0
        # Replicating the integral image's edges clamps the box to the image.
        p = F.pad(s, (r, r, r, r), mode="replicate")  # (B, C, H+1+2r, W+1+2r)
        rows = p[..., 2 * r + 1 : 2 * r + 1 + h, :] - p[..., :h, :]  # (B, C, H, W+1+2r)
        return rows[..., 2 * r + 1 : 2 * r + 1 + w] - rows[..., :w]

    ones = torch.ones(1, 1, h, w, dtype=x.dtype, device=x.device)
    return box_sum(x) / box_sum(ones)


class NAFBlock(nn.Module):
    def __init__(self, c: int, sca_window: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.expand = nn.Conv2d(c, 2 * c, 1)
        self.depthwise = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Conv2d(c, c, 1)
        self.project = nn.Conv2d(c, c, 1)
        self.ffn_in = nn.Conv2d(c, 2 * c, 1)
        self.ffn_out = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.sca_window = sca_window

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        pooled = (x.mean(dim=(2, 3), keepdim=True) if self.sca_window <= 0
                  else box_mean(x, self.sca_window))
        return x * self.sca(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, H, W) -> (B, C, H, W)
        y = simple_gate(self.depthwise(self.expand(self.norm1(x))))  # (B, C, H, W)
        y = x + self.beta * self.project(self.attention(y))
        z = self.ffn_out(simple_gate(self.ffn_in(self.norm2(y))))
        return y + self.gamma * z


class NAFNet(nn.Module):
    def __init__(self, config: NAFNetConfig) -> None:
        super().__init__()
        self.config = config
        self.tone = ToneCurve(ToneCurveConfig()) if config.tone_front else None
        c, window = config.width, config.sca_window
        self.intro = nn.Conv2d(config.image_channels, c, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        for n in config.enc_blocks:
            self.encoders.append(nn.Sequential(*(NAFBlock(c, window) for _ in range(n))))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c, window = 2 * c, max(window // 2, 4) if window > 0 else 0
        self.middle = nn.Sequential(*(NAFBlock(c, window) for _ in range(config.middle_blocks)))
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for n in config.dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c, window = c // 2, window * 2 if window > 0 else 0
            self.decoders.append(nn.Sequential(*(NAFBlock(c, window) for _ in range(n))))
        self.ending = nn.Conv2d(c, config.image_channels, 3, padding=1)
        nn.init.zeros_(self.ending.weight)  # with beta = gamma = 0: the identity map at start
        nn.init.zeros_(self.ending.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, H, W) in [0, 1] -> restored (B, 1, H, W); any H, W (padded, cropped back)
        if self.tone is not None:
            x = self.tone(x)
        h, w = x.shape[-2:]
        m = 2 ** len(self.config.enc_blocks)
        xp = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")
        feat = self.intro(xp)  # (B, c, H, W)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            feat = encoder(feat)
            skips.append(feat)
            feat = down(feat)  # (B, 2c, H/2, W/2)
        feat = self.middle(feat)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            feat = decoder(up(feat) + skip)
        out = xp + self.ending(feat)  # global residual
        return out[..., :h, :w]
