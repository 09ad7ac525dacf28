"""A learnable toy quality label set shared by the session tests that train a tiny model."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from rig.quality.labelset import LABELS_NAME, LabelRow, mask_path, photo_path


def tiny_label_set(folder: Path) -> Path:
    """Sharp and blurred photos of 9 patients, graded 4 and 1: a learnable toy set."""
    rng = np.random.default_rng(0)
    rows = []
    for p in range(9):
        sharp = (rng.random((96, 128)) * 255).astype(np.uint8)
        for grade, image in ((4, sharp), (1, cv2.GaussianBlur(sharp, (0, 0), 3.0))):
            row = LabelRow(f"p{p}-g{grade}", f"p{p}", "toy", 1, grade)
            for path, data in ((photo_path(folder, row), image),
                               (mask_path(folder, row), np.full_like(image, 255))):
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), data)
            rows.append(row)
    (folder / LABELS_NAME).write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    return folder
