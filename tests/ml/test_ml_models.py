"""Model architectures: DnCNN as published (Zhang et al. 2017), U-Net shapes, registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rig.errors import UsageError
from rig.ml.models import MODELS, build_model
from rig.ml.models.dncnn import DnCNN, DnCNNConfig
from rig.ml.models.unet import UNet, UNetConfig


def test_dncnn_layers_as_published() -> None:
    model = DnCNN(DnCNNConfig())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 17
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert (convs[0].in_channels, convs[0].out_channels) == (1, 64)
    assert all((c.in_channels, c.out_channels) == (64, 64) for c in convs[1:16])
    assert (convs[16].in_channels, convs[16].out_channels) == (64, 1)
    # Conv+ReLU, 15 x (Conv+BN+ReLU), Conv: BN exactly after layers 2..16.
    body = list(model.body)
    kinds = [type(m).__name__ for m in body]
    assert kinds[:2] == ["Conv2d", "ReLU"]
    assert kinds[2:47] == ["Conv2d", "BatchNorm2d", "ReLU"] * 15
    assert kinds[47:] == ["Conv2d"]
    assert all(bn.num_features == 64 for bn in body if isinstance(bn, nn.BatchNorm2d))


def test_dncnn_parameter_count_by_hand() -> None:
    first = 3 * 3 * 1 * 64 + 64  # conv 1 with bias
    middle = 15 * (3 * 3 * 64 * 64 + 2 * 64)  # conv without bias + BN gamma, beta
    last = 3 * 3 * 64 * 1 + 1
    assert first + middle + last == 556_097
    model = DnCNN(DnCNNConfig())
    assert sum(p.numel() for p in model.parameters()) == first + middle + last


def test_dncnn_output_is_input_minus_residual() -> None:
    torch.manual_seed(0)
    model = DnCNN(DnCNNConfig()).eval()
    x = torch.rand(2, 1, 24, 20)
    with torch.no_grad():
        out, res = model(x), model.body(x)
    assert out.shape == x.shape
    assert torch.allclose(out, x - res)
    assert res.abs().mean() > 1e-4  # the residual path is not trivially zero


@pytest.mark.parametrize("shape", [(1, 1, 37, 53), (2, 1, 64, 64), (1, 1, 17, 100)])
def test_unet_keeps_any_size_and_starts_as_identity(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = UNet(UNetConfig(base_channels=8, levels=3)).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        out = model(x)
    assert out.shape == x.shape
    assert torch.allclose(out, x)  # zero-initialised head: identity before training


def test_registry_builds_every_model_and_rejects_unknown() -> None:
    for name in MODELS:
        model, config = build_model(name)
        x = torch.rand(1, 1, 32, 32)
        with torch.no_grad():
            assert model.eval()(x).shape == x.shape
        assert type(config).__name__.endswith("Config")
    with pytest.raises(UsageError, match="unknown model"):
        build_model("resnet9000")
    with pytest.raises(UsageError, match="no option"):
        build_model("dncnn", {"width": 3})


def test_tone_front_variants_start_as_their_tone_curve() -> None:
    model, config = build_model("dncnn")
    assert config.tone_front and config.zero_init_residual
    lut = torch.linspace(0, 1, 256) ** 2  # a known curve
    model.tone.lut.copy_(lut)  # type: ignore[union-attr,operator]
    x = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16) / 255.0
    with torch.no_grad():
        assert torch.allclose(model.eval()(x).view(-1), lut, atol=1e-6)
    unet, _ = build_model("unet")
    unet.tone.lut.copy_(lut)  # type: ignore[union-attr,operator]
    with torch.no_grad():
        assert torch.allclose(unet.eval()(x).view(-1), lut, atol=1e-6)


def test_both_dncnn_recipes_train_the_published_network() -> None:
    # rig's recipe adds a frozen curve in front (a buffer, no parameters) and starts the
    # last layer at zero; the network itself is the published one in both.
    ours, _ = build_model("dncnn")
    paper, paper_cfg = build_model("dncnn-paper")
    assert not paper_cfg.tone_front and not paper_cfg.zero_init_residual
    for model in (ours, paper):
        assert sum(p.numel() for p in model.parameters()) == 556_097
        assert [type(m).__name__ for m in model.body] == [type(m).__name__ for m in DnCNN(DnCNNConfig()).body]
    assert MODELS["dncnn-paper"].patch == 40 and MODELS["dncnn-paper"].loss == "mse"


def test_nafnet_box_mean_is_a_local_average_counting_only_inside_pixels() -> None:
    from rig.ml.models.nafnet import box_mean

    x = torch.rand(2, 3, 17, 23, dtype=torch.float64)
    # Oracle: average pooling with stride 1, zero padding not counted.
    expected = torch.nn.functional.avg_pool2d(x, 7, stride=1, padding=3, count_include_pad=False)
    torch.testing.assert_close(box_mean(x, 7), expected)


def test_nafnet_layernorm_normalises_each_pixel_over_channels() -> None:
    from rig.ml.models.nafnet import LayerNorm2d

    x = torch.randn(2, 5, 4, 3)
    norm = LayerNorm2d(5)
    expected = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (5,), eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)


def test_nafnet_starts_as_its_tone_curve_and_keeps_any_size() -> None:
    model, config = build_model("nafnet")
    assert config.tone_front and config.sca_window > 0
    lut = torch.linspace(0, 1, 256) ** 0.5
    model.tone.lut.copy_(lut)  # type: ignore[union-attr,operator]
    x = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16) / 255.0
    with torch.no_grad():
        assert torch.allclose(model.eval()(x).view(-1), lut, atol=1e-6)
        assert model(torch.rand(1, 1, 37, 50)).shape == (1, 1, 37, 50)
    # Its blocks are the paper's: no activation function anywhere.
    assert not any(isinstance(m, nn.ReLU | nn.LeakyReLU | nn.GELU) for m in model.modules())
