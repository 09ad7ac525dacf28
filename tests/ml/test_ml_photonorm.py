"""Per-photo input normalisation: what it removes, what it keeps, how runs record it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.errors import UsageError
from rig.ml.checkpoint import run_input_norm
from rig.ml.infer import TileConfig, restore_array
from rig.ml.models.dncnn import DnCNN, DnCNNConfig
from rig.ml.photonorm import InputNorm


def _photo(seed: int, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    smooth = 0.5 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    return np.asarray(smooth + rng.normal(0, 0.03, shape), np.float64)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), gain=st.floats(0.3, 1.0), offset=st.floats(0.0, 60.0))
def test_a_per_photo_gain_and_offset_is_removed(seed: int, gain: float, offset: float) -> None:
    # What the stretch is for: exposure and haze act on a photo as gain and offset.
    base = _photo(seed) * 160.0
    shifted = base * gain + offset
    norm = InputNorm()
    np.testing.assert_allclose(norm.apply(shifted), norm.apply(base), atol=1e-2)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), low=st.floats(0.0, 10.0), high=st.floats(90.0, 100.0))
def test_output_spans_the_grey_range_and_keeps_order(seed: int, low: float, high: float) -> None:
    photo = np.asarray(np.clip(_photo(seed) * 200 + 20, 0, 255), np.uint8)
    out = InputNorm(low_pct=low, high_pct=high).apply(photo)
    assert out.dtype == np.float32 and out.shape == photo.shape
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert out.max() - out.min() > 250.0  # a stretch, not a squeeze
    order = np.argsort(photo.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)  # monotone: greys keep their order


def test_flat_photo_and_none_pass_through() -> None:
    flat = np.full((20, 30), 77, np.uint8)
    np.testing.assert_array_equal(InputNorm().apply(flat), flat.astype(np.float32))
    photo = np.asarray(_photo(1) * 200, np.uint8)
    np.testing.assert_array_equal(InputNorm("none").apply(photo), photo.astype(np.float32))


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="input-norm"):
        InputNorm("histogram")
    with pytest.raises(UsageError, match="percentile"):
        InputNorm(low_pct=60.0, high_pct=40.0)


def test_runs_record_it_and_older_runs_saw_raw_photos() -> None:
    assert run_input_norm({"train_config": {"input_norm": {"kind": "percentile", "low_pct": 1.0,
                                                          "high_pct": 99.0}}}) == InputNorm(low_pct=1.0, high_pct=99.0)
    assert run_input_norm({"train_config": {"model": "dncnn"}}) == InputNorm("none")


def test_tiles_of_one_photo_share_the_whole_photo_mapping() -> None:
    # The stretch is taken over the whole image before tiling: restoring tile by tile
    # equals restoring the normalised image, whatever the tile size.
    torch.manual_seed(0)
    model = DnCNN(DnCNNConfig(depth=3, channels=4))
    photo = np.asarray(np.clip(_photo(5, (150, 170)) * 120 + 40, 0, 255), np.uint8)
    norm = InputNorm()
    small = restore_array(model, photo, torch.device("cpu"), TileConfig(tile=64, overlap=32), norm)
    whole = restore_array(model, norm.apply(photo), torch.device("cpu"), TileConfig(tile=256))
    np.testing.assert_allclose(small, whole, atol=0.1)
