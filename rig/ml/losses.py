"""Training losses on (B, 1, P, P) patches in [0, 1], each masked to the image area.

Every loss returns one value per sample, (B,): the trainer (``rig.ml.trainer``) takes
the mean over the global batch, which is what makes N processes with batch B train like
one process with batch N·B. (Patches lie inside the mask, so the per-sample mean equals
the pooled mean the losses used before.)

``mse`` is the published DnCNN's loss. ``ssim-l1`` is the mix Zhao et al. found best
for restoration ("Loss Functions for Image Restoration with Neural Networks", IEEE TCI
2017): 0.84·(1 − SSIM) + 0.16·L1, here with single-scale SSIM since patches are small.
Why it matters on screen photos: the evaluation's SSIM punishes a few grey levels of
noise on a flat black background far more than MSE does (C2 is only (0.03·255)²), so a
net trained on MSE alone spends nothing on exactly the regions SSIM scores worst.
SSIM here is the evaluation's (``calibration.metrics``): Gaussian σ = 1.5 on an 11×11
window, K1 = 0.01, K2 = 0.03, population statistics, averaged over windows lying fully
inside the patch and the mask.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from rig.errors import UsageError

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
SSIM_WEIGHT = 0.84  # Zhao et al. 2017
_SIGMA, _RADIUS = 1.5, 5
_C1, _C2 = 0.01**2, 0.03**2  # data range 1


def _window(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    d = torch.arange(-_RADIUS, _RADIUS + 1, device=device, dtype=dtype)
    g = torch.exp(-(d**2) / (2 * _SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, 11, 11)


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) x2 -> (B, 1, H-10, W-10): SSIM of every fully-inside window."""
    w = _window(x.device, x.dtype)
    mx, my = F.conv2d(x, w), F.conv2d(y, w)
    vx = F.conv2d(x * x, w) - mx * mx
    vy = F.conv2d(y * y, w) - my * my
    cxy = F.conv2d(x * y, w) - mx * my
    return ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))


def _per_sample(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean over (1, H, W) of each sample: (B, 1, H, W) x2 -> (B,)."""
    dims = tuple(range(1, values.dim()))
    return (values * weight).sum(dims) / weight.sum(dims).clamp(min=1.0)


def masked_mse(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) mean squared error of each sample over its mask."""
    return _per_sample((out.float() - target) ** 2, mask)


def masked_ssim(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) mean SSIM of each sample over the windows inside its mask."""
    smap = ssim_map(out.float(), target.float())
    inside = (F.avg_pool2d(mask.float(), 2 * _RADIUS + 1, stride=1) > 0.999).to(smap.dtype)
    return _per_sample(smap, inside)


def ssim_l1(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) 0.84·(1 − SSIM) + 0.16·L1 of each sample."""
    l1 = _per_sample((out.float() - target).abs(), mask)
    return SSIM_WEIGHT * (1 - masked_ssim(out, target, mask)) + (1 - SSIM_WEIGHT) * l1


LOSSES: dict[str, LossFn] = {"mse": masked_mse, "ssim-l1": ssim_l1}


def loss_fn(name: str) -> LossFn:
    try:
        return LOSSES[name]
    except KeyError:
        raise UsageError(f"--loss '{name}': use one of {', '.join(LOSSES)}") from None
