"""A session written through rig.session.records, as the engine writes one (export tests)."""

from __future__ import annotations

import cv2
import numpy as np

from rig.library.frames import encode_png, ensure_frame
from rig.project import Project
from rig.session import records


def _jpeg(pixels: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def record_session(
    project: Project,
    source_ids: list[int],
    seed: int,
    state: str = "finished",
    plan: dict[str, object] | None = None,
) -> str:
    """A session (finished unless ``state``) written through rig.session.records, as the
    engine does.

    Item 0 is rejected once (wrong frame) then verified; the last item fails for good.
    """
    rng = np.random.default_rng(seed)
    db = project.db()
    truths = [ensure_frame(project, s) for s in source_ids]
    sid = records.new_session_id()
    records.create_session(
        db,
        sid,
        {"sources": source_ids, **(plan or {})},
        "sim:paper-lcd-iphone",
        [(t.source_id, t.frame_id) for t in truths],
        conditions={"room_light": "on", "preset": "paper-lcd-iphone"},
    )
    for idx, truth in enumerate(truths):
        attempts = 2 if idx == 0 else 1
        for attempt in range(1, attempts + 1):
            cap = records.request_capture(db, sid, idx, attempt, {"distance_mm": 500 + idx})
            noisy = np.clip(truth.pixels + rng.normal(0, 8, truth.pixels.shape), 0, 255).astype(
                np.uint8
            )
            records.store_photo(db, cap, project.objects.put(_jpeg(noisy)), {"model": "sim"})
            if idx == len(truths) - 1:
                records.fail_capture(db, cap, "camera failed")
                continue
            accepted = attempt == attempts
            result = {
                "psnr_db": 30.0 + idx,
                "ssim": 0.9,
                "reproj_err_px": 0.2,
                "residual_px": 0.1,
                "reason": None if accepted else "frame code shows item 7, expected 0",
            }
            mask = np.full(truth.pixels.shape[:2], 255, np.uint8)
            records.record_registration(
                db,
                cap,
                accepted,
                result,
                project.objects.put(encode_png(noisy)),
                project.objects.put(encode_png(mask)),
            )
    records.set_state(db, sid, state)
    db.close()
    return sid
