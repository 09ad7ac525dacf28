"""Training losses: the SSIM in the loss is the SSIM the evaluation reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.metrics import ssim as eval_ssim
from rig.errors import UsageError
from rig.ml.losses import loss_fn, masked_ssim


def _pair(seed: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (h, w)).astype(np.float64)
    truth = np.asarray(np.round(np.clip(truth * 0.3 + 90 + rng.normal(0, 20, (h, w)), 0, 255)))
    photo = np.clip(truth * rng.uniform(0.6, 1.2) + rng.normal(0, rng.uniform(1, 30), (h, w)), 0, 255)
    return truth, np.round(photo)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a / 255.0).float()[None, None]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.integers(12, 48), w=st.integers(12, 48))
def test_loss_ssim_equals_the_evaluation_ssim(seed: int, h: int, w: int) -> None:
    truth, photo = _pair(seed, h, w)
    ones = torch.ones(1, 1, h, w)
    got = float(masked_ssim(_t(photo), _t(truth), ones))
    assert got == pytest.approx(eval_ssim(truth, photo), abs=1e-4)  # float32 in the loss


def test_masked_out_pixels_do_not_count() -> None:
    truth, photo = _pair(3, 40, 40)
    mask = np.zeros((40, 40))
    mask[:, 20:] = 1
    spoiled = photo.copy()
    spoiled[:, :20] = 255 - spoiled[:, :20]  # garbage where the mask says "not seen"
    m = torch.from_numpy(mask).float()[None, None]
    for name in ("mse", "ssim-l1"):
        f = loss_fn(name)
        assert float(f(_t(spoiled), _t(truth), m)) == pytest.approx(float(f(_t(photo), _t(truth), m)))


def test_descending_the_ssim_loss_raises_the_evaluation_ssim() -> None:
    truth, photo = _pair(7, 32, 32)
    x = _t(photo).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.01)
    ones = torch.ones_like(x)
    f = loss_fn("ssim-l1")
    before = eval_ssim(truth, photo)
    for _ in range(30):
        opt.zero_grad()
        f(x, _t(truth), ones).mean().backward()
        opt.step()
    after = eval_ssim(truth, np.clip(x.detach().numpy()[0, 0] * 255, 0, 255))
    assert after > before + 0.05


def test_losses_are_per_sample() -> None:
    truth, photo = _pair(2, 24, 24)
    a, b = _t(photo), _t(truth)
    ones = torch.ones(1, 1, 24, 24)
    for name in ("mse", "ssim-l1"):
        f = loss_fn(name)
        both = f(torch.cat([a, b]), torch.cat([b, b]), torch.cat([ones, ones]))
        assert both.shape == (2,)
        assert float(both[0]) == pytest.approx(float(f(a, b, ones)[0]), abs=1e-6)
        assert float(both[1]) == pytest.approx(0.0, abs=1e-6)


def test_unknown_loss_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--loss"):
        loss_fn("perceptual")
