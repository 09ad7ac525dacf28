"""Sessions written through the session store, as the engine writes them (export tests)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from rig.imaging import codec
from rig.library.frames import GroundTruth, encode_png, ensure_frame
from rig.project import Project
from rig.session.plan import CapturePlan
from rig.session.store import SessionStore
from rig.session.verify import RegistrationOutcome

Ending = Literal["finished", "failed", "running"]


def _shoot(
    project: Project,
    store: SessionStore,
    sid: str,
    idx: int,
    attempt: int,
    truth: GroundTruth,
    rng: np.random.Generator,
    reason: str | None,
) -> None:
    """One attempt: a noisy photo of ``truth`` stored and registered (rejected for ``reason``)."""
    cap = store.request_capture(sid, idx, attempt, {"distance_mm": 500 + idx})
    noise = rng.normal(0, 8, truth.pixels.shape)
    noisy = np.clip(truth.pixels + noise, 0, 255).astype(np.uint8)
    photo = codec.encode_jpeg(noisy, 90, order=codec.RGB)
    store.store_photo(cap, project.objects.put(photo), {"model": "sim"})
    outcome = RegistrationOutcome(
        reason is None, reason, psnr_db=30.0 + idx, ssim=0.9, reproj_err_px=0.2, residual_px=0.1
    )
    mask = np.full(truth.pixels.shape[:2], 255, np.uint8)
    store.record_registration(
        cap, outcome, project.objects.put(encode_png(noisy)), project.objects.put(encode_png(mask))
    )


def record_session(
    project: Project,
    source_ids: list[int],
    seed: int,
    ending: Ending = "finished",
    replay_of: str | None = None,
) -> str:
    """A session of ``source_ids``: item 0 is rejected once (wrong frame) then verified;
    the last item's first photo is rejected (torn).

    ``failed``: the last item is given up, so the run ends failed. ``finished``: the
    process was killed halfway and the session resumed (a resumed session ends
    finished); the last item is verified on its second attempt. ``running``: killed
    before the end (the session stays running). ``replay_of`` marks a QA replay.
    """
    rng = np.random.default_rng(seed)
    truths = [ensure_frame(project, s) for s in source_ids]
    plan = CapturePlan(
        sources="ids:" + ",".join(map(str, source_ids)),
        camera="sim:paper-lcd-iphone",
        conditions={"room_light": "on", "preset": "paper-lcd-iphone"},
        replay_of=replay_of,
    )
    last = len(truths) - 1
    with SessionStore.open(project) as store:
        sid = store.create_session(plan, [(t.source_id, t.frame_id) for t in truths])
        store.transition(sid, "start")
        for idx, truth in enumerate(truths):
            if ending == "finished" and idx == len(truths) // 2:
                store.transition(sid, "start")  # resumed: the killed run's session is adopted
            if idx == 0:
                _shoot(project, store, sid, idx, 1, truth, rng, "frame code shows item 7")
            reason = "torn frame" if idx == last else None
            _shoot(project, store, sid, idx, 2 if idx == 0 else 1, truth, rng, reason)
        if ending == "finished":
            _shoot(project, store, sid, last, 2, truths[last], rng, None)
            store.transition(sid, "finish")
        elif ending == "failed":
            store.give_up_item(sid, last, "no verified photo after 1 attempt")
            store.transition(sid, "fail", f"1 of {len(truths)} items not verified")
    return sid
