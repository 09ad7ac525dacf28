#!/usr/bin/env python3
"""Write the README's simulated-camera example into docs/img/ (each file < 300 KB).

    .venv/bin/python scripts/make_example_photo.py [--preset paper-lcd-iphone] [--seed 1]

Outputs: camsim_frame.png (the screen frame, downscaled), camsim_photo.jpg (the
simulated 12 MP photo, downscaled), camsim_photo_crop.jpg (a 1:1 crop showing
sub-pixels and moiré) and camsim_truth.json (the geometry and parameters).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from rig.camsim import SimCamera, load_preset, project_screen_points
from rig.camsim.testframes import xray_like_frame

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
MAX_BYTES = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper-lcd-iphone")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    frame = xray_like_frame(args.seed, (1000, 1000), (1920, 1080))
    photo = SimCamera(load_preset(args.preset), seed=args.seed).capture(frame)
    image = photo.image
    w, h = photo.truth["image_size"]
    cv2.imwrite(str(OUT / "camsim_frame.png"),
                cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA))
    cv2.imwrite(str(OUT / "camsim_photo.jpg"),
                cv2.resize(image, (w // 4, h // 4), interpolation=cv2.INTER_AREA),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    # A 1:1 crop around a rib edge in the left lung, where stripes and moiré show.
    (u, v), = project_screen_points(photo.truth, [[760.0, 420.0]])
    x0, y0 = int(u) - 240, int(v) - 160
    cv2.imwrite(str(OUT / "camsim_photo_crop.jpg"), image[y0 : y0 + 320, x0 : x0 + 480],
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    (OUT / "camsim_truth.json").write_text(json.dumps(photo.truth, indent=2, sort_keys=True)
                                           + "\n")
    for name in ("camsim_frame.png", "camsim_photo.jpg", "camsim_photo_crop.jpg",
                 "camsim_truth.json"):
        size = (OUT / name).stat().st_size
        assert size < MAX_BYTES, f"{name} is {size} bytes"
        print(f"{OUT / name}: {size // 1000} KB")


if __name__ == "__main__":
    main()
