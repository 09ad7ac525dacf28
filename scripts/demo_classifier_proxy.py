"""The demo's classifier step alone, seeded: is its dicom AUROC in the 0.80–0.97 band?

Generates the demo's kind of samples (720×600, the demo's difficulty) as a DICOM-view
folder (aligned = ground truth: the photo view needs the capture session), with a
demo-sized training/validation split and a larger held-out set, then trains the demo's
classifier per seed (the training patients and the classifier seed both vary) and prints
one JSON line per seed and a summary. A calibration tool (docs/classification.md,
"The demo"); ``rig demo`` is the full measurement.

    python scripts/demo_classifier_proxy.py --work /tmp/proxy --seeds 3
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rig.demo import DemoConfig
from rig.library.samples import SampleSpec, draw_case, render_case
from rig.ml.classify import ClassifyConfig, train_classifier
from rig.ml.clseval import evaluate_classifier
from rig.ml.data import write_png


def make_pool(out: Path, n: int, difficulty: float, seed: int) -> list[dict[str, str]]:
    """``n`` generated cases (two per patient) as DICOM-view pairs; returns their rows."""
    rng, spec, rows = np.random.default_rng(seed), SampleSpec(difficulty=difficulty), []
    for i in range(n):
        case = draw_case(rng, difficulty)
        pid = f"p{i:04d}"
        image = np.rint(render_case(case, spec) * 255).astype(np.uint8)
        write_png(out / "ground_truth" / f"{pid}.png", image)
        write_png(out / "masks" / f"{pid}.png", np.full_like(image, 255))
        rows.append({"pair_id": pid, "patient": f"pat{i // 2:04d}", "study": str(i % 2 + 1),
                     "ground_truth": f"ground_truth/{pid}.png", "aligned": f"ground_truth/{pid}.png",
                     "mask": f"masks/{pid}.png", "preset": "none",
                     **{k: str(v) for k, v in case.labels.items()}})
    return rows


def split_rows(rows: list[dict[str, str]], n_train: int, n_valid: int, n_test: int,
               seed: int) -> list[dict[str, str]]:
    """The last ``n_test`` images are the fixed test set; train/valid patients drawn by seed."""
    head, test = rows[:-n_test], rows[-n_test:]
    patients = sorted({r["patient"] for r in head})
    order = np.random.default_rng(seed).permutation(len(patients))
    split = {patients[i]: "train" for i in order[: n_train // 2]}
    split |= {patients[i]: "valid" for i in order[n_train // 2: (n_train + n_valid) // 2]}
    out = [{**r, "split": split[r["patient"]]} for r in head if r["patient"] in split]
    return out + [{**r, "split": "test"} for r in test]


def run_seed(work: Path, rows: list[dict[str, str]], config: DemoConfig, args: argparse.Namespace,
             seed: int) -> dict[str, object]:
    data = work / f"data-seed{seed}"
    data.mkdir(parents=True, exist_ok=True)
    chosen = split_rows(rows, args.train, args.valid, args.test, seed)
    for r in chosen:
        r.update({k: f"../pool/{r[k]}" for k in ("ground_truth", "aligned", "mask")})
    with (data / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(chosen[0]))
        writer.writeheader()
        writer.writerows(chosen)
    run = work / f"run-seed{seed}"
    shutil.rmtree(run, ignore_errors=True)
    spe = min(30, config.classifier_steps)
    cfg = ClassifyConfig(model=config.classifier, labels=config.labels,
                         input_size=config.classifier_input, epochs=-(-config.classifier_steps // spe),
                         steps_per_epoch=spe, batch=16, seed=seed, patience=1000, device="cpu")
    start = time.process_time()
    trained = train_classifier(data, run, cfg)
    cpu_s = time.process_time() - start
    result = evaluate_classifier(run, data, None, ("dicom",), "test")
    per = {lab: result.per_label[lab]["dicom"]["auroc"] for lab in config.labels}
    scored = [v for v in per.values() if v is not None]
    return {"seed": seed, "auroc_dicom": round(float(np.mean(scored)), 4), "per_label": per,
            "best_val_auroc": trained.best.get("val_auroc"), "train_cpu_s": round(cpu_s, 1),
            "test_images": args.test}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train", type=int, default=72, help="training images (the 120-image demo: 72)")
    parser.add_argument("--valid", type=int, default=24)
    parser.add_argument("--test", type=int, default=60, help="held-out images (larger than the demo's 24)")
    parser.add_argument("--spare", type=int, default=36, help="extra images, so training sets differ by seed")
    parser.add_argument("--steps", type=int, default=DemoConfig().classifier_steps)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = replace(DemoConfig(), classifier_steps=args.steps)
    pool = args.work / "pool"
    n = args.train + args.valid + args.test + args.spare
    rows = make_pool(pool, n, config.difficulty, config.seed)
    results = [run_seed(args.work, [dict(r) for r in rows], config, args, s) for s in range(args.seeds)]
    for r in results:
        print(json.dumps(r))
    values = [float(r["auroc_dicom"]) for r in results]  # type: ignore[arg-type]
    print(json.dumps({"auroc_dicom_mean": round(float(np.mean(values)), 4),
                      "auroc_dicom_sd": round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0,
                      "in_band": all(0.80 <= v <= 0.97 for v in values)}))


if __name__ == "__main__":
    main()
