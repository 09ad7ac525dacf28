"""Diagnosis classifiers: timm networks by name, and a tiny CNN for tests.

Grayscale is handled at the first convolution, never by copying the image into three
channels: the networks are built with ``in_chans=1``, and 3-channel weights from a
local file are folded by summing the first convolution's kernels over RGB (the
response of an RGB network to a grey image replicated into R, G and B is exactly that
sum). Weights are random by default; pretrained weights come only from a local file
(``--weights PATH``). Nothing is ever downloaded: models are created with
``pretrained=False`` and the Hugging Face hub is told to stay offline.

Outputs are logits, (B, L) for L labels; probabilities are ``sigmoid`` (multi-label:
each label its own binary problem, as CheXpert models are trained).
"""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rig.errors import InputError, UsageError


@dataclass(frozen=True)
class ClassifierSpec:
    timm_name: str  # "" for rig's tiny CNN
    input_size: int  # default input side, px
    batch: int  # default batch size (per process, CPU-sized)
    lr: float  # default Adam learning rate (random init)
    note: str = ""


# The screen-photo study used Xception (Chollet 2017) at 299 px; timm 1.x calls that
# network "legacy_xception" (its "xception41/65/71" are the later aligned variants).
# DenseNet-121 is CheXpert's baseline (320 px there). ResNet-18 and EfficientNet-B0 are
# CPU-friendly. Measured training speed at 224 px on 2 shared EPYC cores, batch 8:
# resnet18 15 images/s, xception 3.3, densenet121 2.5, efficientnet_b0 2.0.
CLASSIFIERS: dict[str, ClassifierSpec] = {
    "xception": ClassifierSpec("legacy_xception", 299, 8, 1e-3, "the screen-photo study's model"),
    "densenet121": ClassifierSpec("densenet121", 320, 8, 1e-3, "CheXpert's baseline"),
    "resnet18": ClassifierSpec("resnet18", 224, 16, 1e-3, "CPU-friendly"),
    "efficientnet_b0": ClassifierSpec("efficientnet_b0", 224, 16, 1e-3, "CPU-friendly"),
    "tinycnn": ClassifierSpec("", 128, 16, 3e-3, "four conv layers, for tests and quick demos"),
}
INPUT_SIZES = (224, 299, 320)


def classifier_spec(name: str) -> ClassifierSpec:
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise UsageError(f"unknown classifier '{name}'; choose one of {', '.join(CLASSIFIERS)}") from None


class TinyCNN(nn.Module):
    """Four stride-2 conv layers, global average pooling, a linear head; no BatchNorm
    (so that a DDP run matches a single process exactly)."""

    def __init__(self, num_labels: int, in_chans: int = 1, width: int = 16) -> None:
        super().__init__()
        chans = [in_chans, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1], num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, S, S) -> logits (B, L)
        f = self.features(x).mean(dim=(2, 3))  # (B, 4·width)
        out: torch.Tensor = self.head(f)
        return out


def _timm_model(timm_name: str, num_labels: int) -> nn.Module:
    import timm

    # Belt and braces: pretrained=False never fetches, and the hub client stays offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # timm's notes on renamed models
        model: nn.Module = timm.create_model(timm_name, pretrained=False, in_chans=1,
                                             num_classes=num_labels)
    return model


def build_classifier(name: str, num_labels: int, weights: Path | None = None) -> nn.Module:
    """A classifier with ``num_labels`` logits on 1-channel input; random init unless
    ``weights`` (a local state-dict file) is given."""
    if num_labels < 1:
        raise UsageError("--labels: give at least one label column")
    spec = classifier_spec(name)
    model = TinyCNN(num_labels) if not spec.timm_name else _timm_model(spec.timm_name, num_labels)
    if weights is not None:
        load_local_weights(model, weights)
    return model


def rebuild_classifier(name: str, config: dict[str, Any]) -> nn.Module:
    """The network of a saved run (its weights are loaded by the caller)."""
    return build_classifier(name, len(config["labels"]))


def _state_dict_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def fold_to_gray(weight: torch.Tensor) -> torch.Tensor:
    """(O, 3, k, k) RGB kernels -> (O, 1, k, k) for grey input replicated into R, G, B."""
    return weight.sum(dim=1, keepdim=True)


def load_local_weights(model: nn.Module, path: Path) -> list[str]:
    """Load pretrained weights from a local file into ``model``; returns the keys left
    at their initial values (a classifier head of another size is skipped)."""
    if not path.is_file():
        raise InputError(f"--weights {path}: no such file (weights are read from local files only)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign files
        raise InputError(f"--weights {path}: not a readable torch file ({type(exc).__name__})") from exc
    given = _state_dict_of(raw, path)
    own = model.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, target in own.items():
        w = given.get(key)
        if w is None:
            skipped.append(key)
            continue
        if w.dim() == 4 and w.shape[1] == 3 and target.shape[1] == 1 and w.shape[0] == target.shape[0]:
            w = fold_to_gray(w)
        if w.shape != target.shape:
            skipped.append(key)
            continue
        loaded[key] = w.to(target.dtype)
    if len(loaded) < 0.5 * len(own):
        raise InputError(f"--weights {path}: only {len(loaded)} of {len(own)} tensors match "
                         f"this network; is it the same architecture?")
    model.load_state_dict({**own, **loaded})
    return skipped
