"""One rater's pass over a project's photos (no Qt): the order, the progress, the saving.

Blindness: a rater is shown the photo and nothing else — no automatic figures or
grade, no other rater's grade, not even whether others rated it; the order is the
rater's own shuffle (``ratings.rater_order``). Each grade is stored the moment the key
is pressed (one transaction), so closing the window loses nothing and reopening it
continues with the first photo this rater has not graded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rig.errors import UsageError
from rig.quality.ratings import Rating, rater_order


class RatingSession:
    """The photos ``rater`` still has to grade, in the rater's order."""

    def __init__(
        self,
        rater: str,
        photos: Sequence[str],
        already: set[str],
        load: Callable[[str], np.ndarray],
        save: Callable[[Rating], None],
    ) -> None:
        self.rater = rater.strip()
        if not self.rater:
            raise UsageError("--rater must not be empty")
        self.total = len(photos)
        self.queue = [p for p in rater_order(list(photos), self.rater) if p not in already]
        self.done = self.total - len(self.queue)
        self._load, self._save = load, save

    @property
    def current(self) -> str | None:
        return self.queue[0] if self.queue else None

    def image(self) -> np.ndarray:
        """The current photo, (H, W) grey or (H, W, 3) BGR uint8."""
        if self.current is None:
            raise IndexError("no photo left to rate")
        return self._load(self.current)

    def rate(self, grade: int) -> None:
        """Store ``grade`` (1..4) for the current photo and move to the next."""
        if not 1 <= grade <= 4:
            raise ValueError(f"grade must be 1..4, got {grade}")
        photo = self.queue.pop(0)
        self._save(Rating(self.rater, photo, grade))
        self.done += 1


def open_rating_session(project: Any, rater: str, sessions: Sequence[str]) -> RatingSession:
    """A rating session over the verified pairs of ``sessions`` (all when empty); it shows
    the aligned photo (the image area, as the automatic grade and the model see it)."""
    from rig.export.pairs import select_pairs
    from rig.library.frames import decode_png
    from rig.quality.store import load_ratings, save_ratings

    db = project.db()
    pairs = {p.pair_id: p for p in select_pairs(db, sessions) if p.aligned_sha256}
    already = {r.photo for r in load_ratings(db, rater.strip())}

    def load(photo: str) -> np.ndarray:
        rgb = decode_png(project.objects.get(pairs[photo].aligned_sha256))
        return rgb[..., ::-1].copy() if rgb.ndim == 3 else rgb

    def save(rating: Rating) -> None:
        save_ratings(db, [rating], "rate")

    return RatingSession(rater, sorted(pairs), already, load, save)
