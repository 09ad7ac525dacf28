from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from coral_pytorch.losses import corn_loss
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.ml.models.quality import (
    QualityModelConfig,
    build_quality_model,
    cumulative_le,
    grade_probabilities,
    predict,
    predicted_grade,
    prob_greater,
)
from rig.quality.heatmap import attention_map, heatmap_overlay
from rig.quality.patches import tile_boxes, to_tiles
from rig.quality.task import BagSource, QualityTask, QualityTaskConfig, corn_loss_per_sample

TINY = QualityModelConfig(backbone="tiny", patch=32)


@settings(max_examples=100, deadline=None)
@given(logits=st.lists(st.floats(-30, 30), min_size=3, max_size=3))
def test_corn_head_is_rank_consistent(logits: list[float]) -> None:
    x = torch.tensor(logits, dtype=torch.float64)
    greater = prob_greater(x)
    assert torch.all(greater[1:] <= greater[:-1] + 1e-12)  # P(grade > k) never rises with k
    probs = grade_probabilities(x)
    assert torch.all(probs >= -1e-12) and float(probs.sum()) == pytest.approx(1.0)
    assert torch.allclose(cumulative_le(x), torch.cumsum(probs, 0)[:-1])
    assert 1 <= int(predicted_grade(x)) <= 4


def test_per_sample_corn_loss_is_coral_pytorchs() -> None:
    torch.manual_seed(0)
    logits = torch.randn(9, 3)
    grades = torch.tensor([1, 2, 3, 4, 4, 1, 2, 3, 4])
    per, count = corn_loss_per_sample(logits, grades)
    assert float((per * count).sum() / count.sum()) == pytest.approx(
        float(corn_loss(logits, grades - 1, num_classes=4)), abs=1e-6)


def test_a_batch_of_bags_equals_bags_one_by_one() -> None:
    torch.manual_seed(0)
    model = build_quality_model(TINY).eval()
    bags = torch.rand(3, 5, 1, 32, 32)
    logits, attention = model(bags)
    for b in range(3):
        one, att = model(bags[b])
        assert torch.allclose(logits[b], one, atol=1e-6) and torch.allclose(attention[b], att, atol=1e-6)
    assert torch.allclose(attention.sum(-1), torch.ones(3))


@pytest.mark.parametrize("backbone", ["resnet18", "efficientnet_b0"])
def test_timm_backbones_build_offline(backbone: str) -> None:
    model = build_quality_model(QualityModelConfig(backbone=backbone, patch=64)).eval()
    logits, attention = model(torch.rand(2, 1, 64, 64))
    assert logits.shape == (3,) and attention.shape == (2,)


def test_tiles_cover_the_image_at_native_resolution() -> None:
    image = np.arange(500 * 700, dtype=np.uint32).reshape(500, 700).astype(np.uint8)
    boxes = tile_boxes(500, 700, 224)
    assert len(boxes) == 3 * 4
    covered = np.zeros((500, 700), bool)
    for x, y, w, h in boxes:
        covered[y : y + h, x : x + w] = True
    assert covered.all()
    mask = np.ones((500, 700), bool)
    mask[:, :300] = False
    tiles, kept = to_tiles(image, 224, mask)
    assert len(tiles) < len(boxes) and all(x + w > 300 for x, _, w, _ in kept)
    x, y = kept[0][:2]
    assert np.array_equal(tiles[0], image[y : y + 224, x : x + 224])  # not resampled
    small, _ = to_tiles(np.zeros((100, 80), np.uint8), 224)
    assert small.shape == (1, 224, 224)


def _bag_sources(n: int) -> list[BagSource]:
    """Grade 4: sharp noise texture; grade 1: the same blurred flat; 2 and 3 in between."""
    sources = []
    for i in range(n):
        grade = 1 + i % 4
        rng = np.random.default_rng(i)
        texture = rng.integers(0, 256, (6, 32, 32)).astype(np.float32)
        smooth = np.full_like(texture, texture.mean())
        mix = (grade - 1) / 3
        tiles = np.clip(mix * texture + (1 - mix) * smooth, 0, 255).astype(np.uint8)
        sources.append(BagSource(f"ph{i}", f"pt{i // 4}", grade, lambda t=tiles: t))
    return sources


def test_quality_task_trains_with_a_plain_loop() -> None:
    task = QualityTask(QualityTaskConfig(model=TINY, bag_size=4, seed=0), _bag_sources(16),
                       _bag_sources(8))
    build = task.build()
    model = build.model
    data = task.train_data(samples=16)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(30):
        data.set_epoch(epoch)
        batch = tuple(torch.stack(parts) for parts in zip(*[data[i] for i in range(16)],
                                                          strict=True))
        model.train()
        out = task.forward(model, batch)
        lo = task.loss(out, batch)
        loss = (lo.per_sample * lo.weight).sum() / lo.weight.sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])
    metrics = task.validate(model, torch.device("cpu"))
    assert metrics["val_qwk"] > 0.5 and metrics["score"] == metrics["val_qwk"]
    assert set(task.predictions(out)) == {"grade", "cumulative_le"}


def test_sample_depends_only_on_seed_epoch_index() -> None:
    cfg = QualityTaskConfig(model=TINY, bag_size=3, seed=5)
    a = QualityTask(cfg, _bag_sources(8), []).train_data(8)
    b = QualityTask(cfg, _bag_sources(8), []).train_data(8)
    a.set_epoch(2)
    b.set_epoch(2)
    assert torch.equal(a[3][0], b[3][0])
    b.set_epoch(3)
    assert not torch.equal(a[3][0], b[3][0])


def test_predict_and_heat_map(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_quality_model(TINY)
    photo = np.random.default_rng(0).integers(0, 256, (70, 100)).astype(np.uint8)
    tiles, boxes = to_tiles(photo, 32)
    pred = predict(model, tiles, k_star=2)
    assert 1 <= pred.grade <= 4 and pred.p_bad == pytest.approx(pred.cumulative_le[1])
    assert sum(pred.probabilities) == pytest.approx(1.0) and pred.attention.shape == (len(tiles),)
    attention = np.zeros(len(tiles))
    attention[0] = 1.0  # all weight on the top-left tile
    amap = attention_map(attention, boxes, photo.shape)
    assert amap[0, 0] > 0 and amap[-1, -1] == 0
    overlay = heatmap_overlay(np.full_like(photo, 100), attention, boxes).astype(int)
    assert overlay.shape == (*photo.shape, 3)
    assert overlay[0, 0, 2] > overlay[-1, -1, 2] and overlay[-1, -1, 0] > overlay[0, 0, 0]  # red/blue
