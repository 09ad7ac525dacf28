"""Registering and verifying one photo against the screen frame it should show.

Shared by the session runner and ``rig import-photos`` (photos that stayed on a
CheXpeditor phone): same registration, same verdict, same stored artefacts.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from calibration.fiducials import FiducialLayout
from calibration.refinement import Area
from calibration.registration import register_photo
from rig.library.frames import encode_png
from rig.session.frames import PreparedItem


def register_prepared(
    prepared: PreparedItem, jpeg: bytes, layout: FiducialLayout
) -> tuple[bool, dict[str, Any], bytes | None, bytes | None]:
    """(accepted, result for the store, aligned PNG, mask PNG) of one photo."""
    photo = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if photo is None:
        return False, {"reason": "photo is not a readable JPEG"}, None, None
    place = prepared.screen.placement
    # Register over the image's own rectangle, so the aligned photo is the ground truth's twin.
    area = Area(place.offset_x, place.offset_y, place.width, place.height)
    reg = register_photo(
        photo, prepared.screen.canvas, layout, area=area, expected=prepared.screen.code
    )
    res = reg.result
    result = {
        "reason": res.reason or None,
        "psnr_db": res.psnr_db,
        "ssim": res.ssim,
        "reproj_err_px": res.reproj_rms_px,
        "residual_px": res.reproj_max_px,
        "mapping": res.mapping,
        "frame_code": res.code,
        "detail": res.to_dict(),
    }
    if not res.accepted or reg.aligned is None:
        return res.accepted, result, None, None
    aligned, mask = _to_ground_truth(prepared, reg.aligned, reg.mask)
    return True, result, aligned, mask


def _to_ground_truth(
    prepared: PreparedItem, image: np.ndarray, mask: np.ndarray | None
) -> tuple[bytes, bytes | None]:
    """The aligned photo in the ground truth's pixels and channels (gray for gray sources)."""
    if prepared.truth.pixels.ndim == 2 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3:
        image = image[..., ::-1]  # encode_png takes RGB like the ground truth
    truth_hw = prepared.truth.pixels.shape[:2]
    valid: np.ndarray | None = None
    if mask is not None:
        valid = (mask > 0).astype(np.uint8) * 255
    if image.shape[:2] != truth_hw:  # a scaled placement: back to ground-truth pixels
        size = (truth_hw[1], truth_hw[0])
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if valid is not None:
            valid = cv2.resize(valid, size, interpolation=cv2.INTER_NEAREST)
    return encode_png(np.ascontiguousarray(image)), None if valid is None else encode_png(valid)


def verify_capture(
    project: Any,
    db: Any,
    session_id: str,
    plan: Any,
    row: dict[str, Any],
    jpeg: bytes,
    allowed: bool = True,
) -> tuple[bool, dict[str, Any]]:
    """Register a stored photo of capture ``row`` (id, idx, attempt, source_id) against the
    exact screen frame of its attempt and record the verdict (``allowed=False`` refuses it)."""
    from rig.session import records
    from rig.session.frames import prepare_item

    layout = FiducialLayout.from_dict(plan.layout)
    prepared = prepare_item(
        project,
        session_id,
        row["idx"],
        row["attempt"],
        row["source_id"],
        layout,
        (plan.screen_width, plan.screen_height),
        plan.placement,
    )
    accepted, result, aligned, mask = register_prepared(prepared, jpeg, layout)
    accepted = accepted and allowed
    records.record_registration(
        db,
        row["id"],
        accepted,
        result,
        project.objects.put(aligned) if aligned else None,
        project.objects.put(mask) if mask else None,
    )
    return accepted, result


def reregister_session(project: Any, session_id: str) -> dict[str, Any]:
    """``rig register SESSION``: register every stored or verified photo of a session again.

    Useful after a calibration or registration change. A verified photo that no longer
    passes takes its item back to 'shown' (``rig session resume`` retakes it); a stored
    photo that now passes verifies its item, unless the item already has a verified one.
    """
    from rig.session.service import load

    plan, _ = load(project, session_id)
    db = project.db()
    changed: list[dict[str, Any]] = []
    counts = {"accepted": 0, "rejected": 0}
    try:
        rows = list(
            db.query(
                "SELECT c.id, c.idx, c.attempt, c.state, c.photo_sha256, i.source_id FROM captures c "
                "JOIN items i ON i.session_id=c.session_id AND i.idx=c.idx WHERE c.session_id=? "
                "AND c.state IN ('stored', 'verified') ORDER BY c.idx, c.attempt",
                [session_id],
            )
        )
        for row in rows:
            others = db.execute(
                "SELECT count(*) FROM captures WHERE session_id=? AND idx=? AND state='verified' AND id!=?",
                [session_id, row["idx"], row["id"]],
            ).fetchone()[0]
            jpeg = project.objects.get(row["photo_sha256"])
            accepted, result = verify_capture(project, db, session_id, plan, row, jpeg, not others)
            if row["state"] == "verified" and not accepted:
                with db.conn:
                    db.execute(
                        "UPDATE items SET state='shown' WHERE session_id=? AND idx=?",
                        [session_id, row["idx"]],
                    )
            if (row["state"] == "verified") != accepted:
                changed.append(
                    {
                        "item": row["idx"],
                        "attempt": row["attempt"],
                        "now": "accepted" if accepted else "rejected",
                        "reason": result.get("reason"),
                    }
                )
            counts["accepted" if accepted else "rejected"] += 1
    finally:
        db.close()
    return {"session": session_id, "photos": len(rows), **counts, "changed": changed}
