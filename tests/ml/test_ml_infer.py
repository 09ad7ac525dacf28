"""Tiled inference: the untiled forward pass is the oracle."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from rig.ml.infer import TileConfig, restore_array, tile_starts
from rig.ml.models.dncnn import DnCNN, DnCNNConfig
from rig.ml.models.unet import UNet, UNetConfig


def _untiled(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(image.astype(np.float32) / 255.0)[None, None]
        return np.asarray(model.eval()(x)[0, 0].clamp(0, 1).numpy() * 255.0)


def test_tiled_equals_untiled_when_one_tile_fits() -> None:
    torch.manual_seed(1)
    model = DnCNN(DnCNNConfig(depth=5, channels=16))
    image = np.random.default_rng(0).integers(0, 256, (50, 70)).astype(np.uint8)
    tiled = restore_array(model, image, torch.device("cpu"), TileConfig(tile=128, overlap=16))
    np.testing.assert_allclose(tiled, _untiled(model, image), atol=1e-4)


def test_overlapping_tiles_match_untiled_away_from_tile_edges() -> None:
    torch.manual_seed(2)
    # Receptive radius of a 5-layer 3x3 net: 5 px < overlap/4 = 8: the blended region
    # never uses padded outputs, so tiles reproduce the untiled pass to float rounding.
    model = DnCNN(DnCNNConfig(depth=5, channels=8))
    image = np.random.default_rng(1).integers(0, 256, (150, 210)).astype(np.uint8)
    tiled = restore_array(model, image, torch.device("cpu"), TileConfig(tile=64, overlap=32, batch=3))
    full = _untiled(model, image)
    assert tiled.shape == image.shape
    np.testing.assert_allclose(tiled, full, atol=0.1)  # grey levels; float32 conv rounding


def test_unet_odd_image_single_tile() -> None:
    torch.manual_seed(3)
    model = UNet(UNetConfig(base_channels=8, levels=3))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    image = np.random.default_rng(2).integers(0, 256, (45, 61)).astype(np.uint8)
    tiled = restore_array(model, image, torch.device("cpu"), TileConfig(tile=64))
    np.testing.assert_allclose(tiled, _untiled(model, image), atol=1e-4)


@given(st.integers(1, 3000), st.integers(8, 600), st.integers(0, 200))
def test_tile_starts_cover_the_axis(length: int, tile: int, overlap: int) -> None:
    overlap = min(overlap, tile - 1)
    starts = tile_starts(length, tile, overlap)
    covered = np.zeros(length, bool)
    for s in starts:
        assert s >= 0 and (s + min(tile, length)) <= length
        covered[s : s + tile] = True
    assert covered.all()
    assert starts == sorted(set(starts))


def test_an_image_within_one_batch_of_tiles_is_one_pass() -> None:
    # 100x90 px is wider and taller than a 64 px tile but smaller than 4 tiles of 64²:
    # one pass, so a U-Net (whose receptive field spans the image) gives its untiled output.
    torch.manual_seed(2)
    model = UNet(UNetConfig(base_channels=4, levels=2, tone_front=False)).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 0.3)  # type: ignore[operator]
    image = np.random.default_rng(2).uniform(0, 255, (100, 90)).astype(np.float32)
    one_pass = restore_array(model, image, torch.device("cpu"), TileConfig(tile=64, overlap=16, batch=4))
    np.testing.assert_allclose(one_pass, _untiled(model, image), atol=1e-4)
    tiled = restore_array(model, image, torch.device("cpu"), TileConfig(tile=64, overlap=16, batch=1))
    assert np.abs(tiled - _untiled(model, image)).max() > 1e-3  # tiles would differ


def test_nafnet_tiles_are_seamless() -> None:
    # A NAFNet with local channel attention has a bounded receptive field (here about
    # 2x(3 + 4) px at full resolution plus a level below): tiled inference with an
    # overlap four times that radius reproduces the whole-image pass.
    from rig.ml.models.nafnet import NAFNet, NAFNetConfig

    torch.manual_seed(4)
    model = NAFNet(NAFNetConfig(width=4, enc_blocks=(1,), middle_blocks=1, dec_blocks=(1,),
                                sca_window=6, tone_front=False)).eval()
    with torch.no_grad():
        for block in model.modules():
            if hasattr(block, "beta"):
                block.beta.normal_(0, 0.5)  # type: ignore[union-attr, operator]
                block.gamma.normal_(0, 0.5)  # type: ignore[union-attr, operator]
        model.ending.weight.normal_(0, 0.2)
    image = np.random.default_rng(5).uniform(0, 255, (150, 200)).astype(np.float32)
    whole = _untiled(model, image)
    tiled = restore_array(model, image, torch.device("cpu"), TileConfig(tile=64, overlap=48, batch=1))
    assert np.abs(whole - image).max() > 1.0  # the net does change the image
    np.testing.assert_allclose(tiled, whole, atol=0.05)
