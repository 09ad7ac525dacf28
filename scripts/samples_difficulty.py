"""How hard is the generated diagnosis task? A small CNN's AUROC on dicom vs photo views.

Simulates pairs as the restoration benchmark does (``rig.ml.benchdata``: sample → 1:1
on a 1920×1080 screen → virtual camera ``paper-lcd-iphone`` → warped back with the true
geometry), at a chosen ``difficulty``, trains a
small CNN on the ground-truth (dicom) view of the training pairs (multi-label,
U-Ignore), and reports per-label AUROC on the held-out pairs for the dicom and the
photo view. Used to choose ``rig.library.samples.DEFAULT_DIFFICULTY`` (docs/samples.md);
not a test and not part of the package.

    python scripts/samples_difficulty.py --pairs 240 --difficulty 0.5 --steps 600
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from rig.library import samples
from rig.ml.benchdata import BORDER_PX, SCREEN_WH

LABELS = ("Cardiomegaly", "Lung Lesion", "Consolidation", "Pneumothorax", "Pleural Effusion",
          "Support Devices")
SIZE = (192, 224)  # (W, H) network input, the samples' 5:6 aspect


def load(folder: Path, rows: list[dict[str, str]], view: str) -> torch.Tensor:
    images = []
    for row in rows:
        img = cv2.imread(str(folder / row[view]), cv2.IMREAD_GRAYSCALE)
        images.append(cv2.resize(img, SIZE, interpolation=cv2.INTER_AREA))
    return torch.from_numpy(np.stack(images)[:, None].astype(np.float32) / 255.0)


def targets(rows: list[dict[str, str]]) -> torch.Tensor:
    return torch.tensor([[float(r[name]) for name in LABELS] for r in rows])


def network() -> nn.Module:
    """A small CNN that fits a CPU: a stride-2 stem, then one conv + pool per stage."""
    layers: list[nn.Module] = [nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.BatchNorm2d(16), nn.ReLU()]
    for c_in, c_out in itertools.pairwise([16, 32, 48, 64, 96]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(96, len(LABELS)))


def train(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = network()
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (16,), generator=gen)
        xb, yb = x[idx], y[idx]
        # Random augmentation as in the study: brightness/contrast and small shifts.
        xb = (xb - 0.5) * (1 + 0.2 * (torch.rand(len(xb), 1, 1, 1, generator=gen) - 0.5)) + 0.5
        xb = torch.roll(xb, shifts=(int(torch.randint(-6, 7, (1,), generator=gen)),
                                    int(torch.randint(-6, 7, (1,), generator=gen))), dims=(2, 3))
        mask = (yb >= 0).float()  # U-Ignore: uncertain labels do not count
        loss = (nn.functional.binary_cross_entropy_with_logits(model(xb), yb.clamp(min=0),
                                                               reduction="none") * mask).sum()
        loss = loss / mask.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann–Whitney AUROC over the certain labels; NaN with one class only."""
    keep = labels >= 0
    s, t = scores[keep], labels[keep]
    pos, neg = s[t == 1], s[t == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def make_pair(k: int, difficulty: float, out: Path) -> dict[str, str]:
    """Pair k: the displayed sample and its registered photo, as 8-bit PNGs."""
    from rig.camsim import SimCamera, load_preset, warp_photo_to_screen
    from rig.imaging.compositor import compose

    rng = np.random.default_rng([7, k])
    case = samples.draw_case(rng, difficulty)
    truth = np.asarray(np.rint(samples.render_case(case, samples.SampleSpec()) * 255), np.uint8)
    canvas, place = compose(truth, SCREEN_WH, "1:1", border_px=BORDER_PX)
    params = load_preset("paper-lcd-iphone")
    photo = SimCamera(params.sample(rng) if params.ranges else params, seed=k).capture(canvas)
    aligned, _ = warp_photo_to_screen(photo.image, photo.truth, SCREEN_WH)
    box = (slice(place.offset_y, place.offset_y + place.height),
           slice(place.offset_x, place.offset_x + place.width))
    cv2.imwrite(str(out / f"{k:04d}_truth.png"), truth)
    cv2.imwrite(str(out / f"{k:04d}_photo.png"), cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)[box])
    return {"ground_truth": f"{k:04d}_truth.png", "aligned": f"{k:04d}_photo.png",
            **{name: str(case.labels[name]) for name in LABELS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=240)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--difficulty", type=float, default=samples.DEFAULT_DIFFICULTY)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    folder = (args.work or Path(tempfile.mkdtemp(prefix="rig-difficulty-"))) / f"d{args.difficulty}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        with manifest.open() as handle:
            rows = list(csv.DictReader(handle))
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(make_pair, range(args.pairs), [args.difficulty] * args.pairs,
                                 [folder] * args.pairs))
        with manifest.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    n_test = round(len(rows) * args.test_fraction)
    train_rows, test_rows = rows[:-n_test], rows[-n_test:]
    x_train, y_train = load(folder, train_rows, "ground_truth"), targets(train_rows)
    y_test = targets(test_rows).numpy()
    views = {v: load(folder, test_rows, k) for v, k in (("dicom", "ground_truth"), ("photo", "aligned"))}
    result: dict[str, dict[str, list[float]]] = {v: {n: [] for n in LABELS} for v in views}
    for seed in range(args.seeds):
        model = train(x_train, y_train, args.steps, seed)
        with torch.no_grad():
            for view, x in views.items():
                scores = torch.sigmoid(model(x)).numpy()
                for j, name in enumerate(LABELS):
                    result[view][name].append(auroc(scores[:, j], y_test[:, j]))
    summary = {view: {n: round(float(np.nanmean(v)), 3) for n, v in per.items()}
               for view, per in result.items()}
    for view in summary:
        summary[view]["mean"] = round(float(np.nanmean(list(summary[view].values()))), 3)
    print(json.dumps({"difficulty": args.difficulty, "pairs": args.pairs, "train": len(train_rows),
                      "test": len(test_rows), "steps": args.steps, "seeds": args.seeds,
                      "auroc": summary}, indent=1))


if __name__ == "__main__":
    main()
