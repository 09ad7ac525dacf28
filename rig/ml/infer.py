"""Applying a model to whole images: overlapping tiles, blended, batched.

Tiles of ``tile`` px overlap by at least ``overlap`` px; each tile's output is weighted
by a separable profile that ignores the outer quarter of the overlap on sides shared with
another tile (where a conv net sees padding instead of context) and ramps up over the
next half; the weighted sum is divided by the summed weights. A net whose receptive
radius is below overlap/4 (DnCNN: 17 px, default overlap 96) gives exactly its untiled
output. An image no larger than a full batch of tiles (``tile² · batch`` pixels: the
same memory) is one forward pass: a 720x600 radiograph cut into 512 px tiles with 96 px
overlaps made 2.4x the pixels for the net, and a U-Net sees the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rig.ml.photonorm import InputNorm


@dataclass(frozen=True)
class TileConfig:
    tile: int = 512
    overlap: int = 96
    batch: int = 4


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of ``tile`` overlapping by >= overlap."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def edge_weight(n: int, overlap: int, blend_start: bool, blend_end: bool) -> np.ndarray:
    """1-D blending weight of a tile along one axis.

    On a side shared with a neighbouring tile, the outer quarter of the overlap is
    (almost) ignored, since a conv net sees padding there instead of context; the next
    half ramps up linearly. Sides on the image border keep full weight: no other tile
    covers them. Never exactly zero, so every pixel has a defined average.
    """
    w = np.ones(n, np.float32)
    guard, ramp = overlap // 4, max(1, overlap // 2)
    d = np.arange(n, dtype=np.float32)
    profile = np.clip((d - guard + 0.5) / ramp, 1e-4, 1.0)
    if blend_start:
        w = np.minimum(w, profile)
    if blend_end:
        w = np.minimum(w, profile[::-1])
    return w


@torch.no_grad()
def restore_array(model: nn.Module, image: np.ndarray, device: torch.device,
                  cfg: TileConfig = TileConfig(), norm: InputNorm | None = None,
                  cpu_bf16: bool = False) -> np.ndarray:
    """Restore an image (H, W) uint8 or float in [0, 255] -> float32 (H, W) in [0, 255].

    ``norm`` (the run's input normalisation) is applied to the whole image before tiling.
    ``cpu_bf16``: bfloat16 autocast on the CPU, for validation during training only (a
    few times faster; the restored images that are saved or scored stay float32).
    """
    model.eval()
    src = (norm.apply(image) if norm is not None else np.asarray(image, np.float32)) / 255.0
    h, w = src.shape
    if h * w <= cfg.tile * cfg.tile * cfg.batch:
        th, tw = h, w
    else:
        th, tw = min(cfg.tile, h), min(cfg.tile, w)
    boxes = [(y, x) for y in tile_starts(h, th, cfg.overlap) for x in tile_starts(w, tw, cfg.overlap)]
    acc = np.zeros((h, w), np.float64)
    weight_sum = np.zeros((h, w), np.float64)
    use_amp = device.type == "cuda" or cpu_bf16
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    for i in range(0, len(boxes), cfg.batch):
        chunk = boxes[i : i + cfg.batch]
        tiles = np.stack([src[y : y + th, x : x + tw] for y, x in chunk])[:, None]  # (b,1,th,tw)
        batch = torch.from_numpy(tiles).to(device)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            out = model(batch)
        out_np = out.float().cpu().numpy()[:, 0]
        for (y, x), t in zip(chunk, out_np, strict=True):
            weight = np.outer(edge_weight(th, cfg.overlap, y > 0, y + th < h),
                              edge_weight(tw, cfg.overlap, x > 0, x + tw < w))  # (th, tw)
            acc[y : y + th, x : x + tw] += t * weight
            weight_sum[y : y + th, x : x + tw] += weight
    return np.asarray(np.clip(acc / weight_sum, 0.0, 1.0) * 255.0, np.float32)


def to_uint8(restored: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(np.rint(restored), 0, 255), np.uint8)
