"""DnCNN (Zhang et al. 2017, "Beyond a Gaussian Denoiser", IEEE TIP 26(7)), as published.

17 conv layers of 3x3, 64 channels: layer 1 Conv+ReLU, layers 2-16 Conv+BN+ReLU,
layer 17 Conv. Residual learning: the network predicts the residual v = x - y and the
restored image is x - v. Grayscale (1 channel). Convs followed by BN carry no bias
(BN's shift makes it redundant), as in the authors' reference implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig


@dataclass(frozen=True)
class DnCNNConfig:
    depth: int = 17  # conv layers in total
    channels: int = 64
    image_channels: int = 1
    kernel: int = 3
    tone_front: bool = False  # not published: a fitted tone curve before the net ("dncnn-tone")
    zero_init_residual: bool = False  # not published: last conv starts at 0 (identity map)


class DnCNN(nn.Module):
    def __init__(self, config: DnCNNConfig) -> None:
        super().__init__()
        self.config = config
        c, k, pad = config.channels, config.kernel, config.kernel // 2
        layers: list[nn.Module] = [
            nn.Conv2d(config.image_channels, c, k, padding=pad, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(c, c, k, padding=pad, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(c, config.image_channels, k, padding=pad, bias=True))
        self.body = nn.Sequential(*layers)
        self.tone = ToneCurve(ToneCurveConfig()) if config.tone_front else None
        self._init_weights()

    def _init_weights(self) -> None:
        # He (Kaiming) initialisation for the ReLU convs, as in the paper.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.config.zero_init_residual:
            last = self.body[-1]
            assert isinstance(last, nn.Conv2d)
            nn.init.zeros_(last.weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted residual (degradation) v, (B, 1, H, W)."""
        out: torch.Tensor = self.body(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, H, W) in [0, 1] -> restored (B, 1, H, W)
        if self.tone is not None:
            x = self.tone(x)
        return x - self.residual(x)
