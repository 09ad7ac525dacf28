"""Model registry: a name maps to its config class and constructor (no if/elif factory)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from rig.errors import UsageError
from rig.ml.models.dncnn import DnCNN, DnCNNConfig
from rig.ml.models.nafnet import NAFNet, NAFNetConfig
from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig
from rig.ml.models.unet import UNet, UNetConfig


def tone_module(model: nn.Module) -> ToneCurve | None:
    """The model's global tone-curve LUT to fit before training, if it has one."""
    if isinstance(model, ToneCurve):
        return model
    tone = getattr(model, "tone", None)
    return tone if isinstance(tone, ToneCurve) else None


@dataclass(frozen=True)
class ModelEntry:
    config_cls: type
    build: Callable[[Any], nn.Module]
    patch: int  # default training patch side, px
    batch: int  # default batch size
    lr: float  # default Adam learning rate
    loss: str = "mse"  # default training loss (rig.ml.losses)
    clip_grad: float = 0.0  # default max gradient norm (0: none)
    closed_form: bool = False  # fitted in one pass over the data (no optimiser)
    defaults: dict[str, Any] = field(default_factory=dict)  # config fields of this variant


# DnCNN exactly as published (17 conv, 64 channels, BN, residual learning, grayscale)
# under two training recipes. "dncnn" is rig's: the net works on the tone-normalised photo
# (a global tone curve fitted in closed form before training and then frozen, so the
# residual it learns is noise, moire and blur rather than the phone's tone response),
# its last layer starts at zero (the untrained model is the curve), 96 px patches (an
# 11 px SSIM window wastes a quarter of a 40 px patch), SSIM+L1 (MSE hardly sees the flat
# dark regions where SSIM is lost), Adam 5e-4 with the gradient norm clipped at 1.
# Measured on the bench in 5 CPU minutes, test SSIM: 0.901 at 1e-3 unclipped,
# 0.929-0.935 (4 seeds) at 5e-4 clipped; 0.939 in 8 minutes; without the frozen curve
# 34.8 dB / 0.924 (still climbing). "dncnn-paper" is the published recipe: 40x40
# patches, MSE, Adam 1e-3, He init, no curve (batch 16 instead of 128 for CPUs).
_DNCNN = ModelEntry(DnCNNConfig, DnCNN, patch=96, batch=4, lr=5e-4, loss="ssim-l1", clip_grad=1.0,
                    defaults={"tone_front": True, "zero_init_residual": True})

MODELS: dict[str, ModelEntry] = {
    "dncnn": _DNCNN,
    "dncnn-paper": ModelEntry(DnCNNConfig, DnCNN, patch=40, batch=16, lr=1e-3),
    "dncnn-tone": _DNCNN,  # the name of rig's recipe before it became "dncnn"; its runs still load
    # Trained for SSIM: with MSE it never left its tone-curve start within a 5 min CPU
    # budget (the MSE left after the curve is mostly unlearnable noise). Adam 3e-4 with
    # the gradient norm clipped at 1: at 5e-4 unclipped one loss spike early in a run
    # cost 0.9 dB / 0.024 SSIM on the bench's test split; at 1e-3 validation PSNR swings
    # by 2 dB between epochs; at 2e-4 it barely moves.
    "unet": ModelEntry(UNetConfig, UNet, patch=128, batch=4, lr=3e-4, loss="ssim-l1", clip_grad=1.0),
    # NAFNet-style (rig/ml/models/nafnet.py): LayerNorm + gated depthwise blocks in a
    # U-shape, local channel attention so tiles are seamless; SSIM+L1 as the others, Adam
    # 5e-4 (the paper's 1e-3 with AdamW over 200k+ steps; ours are a few hundred), clipped.
    "nafnet": ModelEntry(NAFNetConfig, NAFNet, patch=128, batch=4, lr=5e-4, loss="ssim-l1", clip_grad=1.0),
    "tonecurve": ModelEntry(ToneCurveConfig, ToneCurve, patch=64, batch=1, lr=0.0,
                            closed_form=True),
}


def model_entry(name: str) -> ModelEntry:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model '{name}'; choose one of {', '.join(MODELS)}") from None


def build_model(name: str, overrides: dict[str, Any] | None = None) -> tuple[nn.Module, Any]:
    """(model, config) for a registered name; ``overrides`` set config fields."""
    entry = model_entry(name)
    known = {f.name for f in fields(entry.config_cls)}
    bad = sorted(set(overrides or {}) - known)
    if bad:
        raise UsageError(f"model '{name}' has no option(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    config = entry.config_cls(**{**entry.defaults, **(overrides or {})})
    return entry.build(config), config
