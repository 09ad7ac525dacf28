"""A compact U-Net for screen photos: a fitted tone curve, then a large receptive field.

Why not just DnCNN: screen photos carry global tone shifts, glare gradients and moiré
whose periods span tens of pixels, while DnCNN sees only 35x35 pixels. Four 2x
down-samplings give this net a receptive field of a few hundred pixels; an optional
bottleneck branch adds a global-average-pooled feature to every position. A fitted global tone curve (the ``tonecurve`` baseline's LUT) is applied first,
and the net learns a residual on top: restored = t(x) + f(t(x)). Inputs of any size are
padded (replicate) to a multiple of 2**levels and the output is cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig


@dataclass(frozen=True)
class UNetConfig:
    base_channels: int = 24
    levels: int = 4  # number of 2x down-samplings
    image_channels: int = 1
    max_channels: int = 128
    tone_front: bool = True  # apply a fitted global tone curve (LUT) before the net
    # Off by default: a mean over the input makes the output depend on the tile size, and
    # training patches are far smaller than inference tiles (measured: worse on test).
    global_context: bool = False


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        # The LUT is fitted in closed form on the train split before gradient training
        # (rig.ml.train), so the net starts from the tone-corrected photo and spends its
        # capacity on what a global curve cannot fix: glare, blur, moiré, noise.
        self.tone = ToneCurve(ToneCurveConfig()) if config.tone_front else None
        widths = [min(config.base_channels * 2**i, config.max_channels)
                  for i in range(config.levels + 1)]
        self.stem = _block(config.image_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1)
            for i in range(config.levels))
        self.enc = nn.ModuleList(_block(widths[i + 1], widths[i + 1]) for i in range(config.levels))
        bottom = widths[-1]
        self.global_fc = (nn.Sequential(nn.Linear(bottom, bottom), nn.LeakyReLU(0.1, inplace=True),
                                        nn.Linear(bottom, bottom)) if config.global_context else None)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(config.levels)))
        self.dec = nn.ModuleList(_block(2 * widths[i], widths[i])
                                 for i in reversed(range(config.levels)))
        self.head = nn.Conv2d(widths[0], config.image_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start as the identity map
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, H, W) -> (B, C, H, W)
        if self.tone is not None:
            x = self.tone(x)
        h, w = x.shape[-2:]
        m = 2**self.config.levels
        pad_h, pad_w = (-h) % m, (-w) % m
        xp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        feat = self.stem(xp)  # (B, c0, H, W)
        skips = [feat]
        for down, enc in zip(self.down, self.enc, strict=True):
            feat = enc(down(feat))  # (B, c_i+1, H/2^(i+1), W/2^(i+1))
            skips.append(feat)
        if self.global_fc is not None:
            g = self.global_fc(feat.mean(dim=(2, 3)))  # (B, c_bottom): per-input context
            feat = feat + g[:, :, None, None]
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1]), strict=True):
            feat = dec(torch.cat([up(feat), skip], dim=1))
        out = xp + self.head(feat)  # residual learning
        return out[..., :h, :w]
