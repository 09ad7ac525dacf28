"""Finding burned-in text: every identifier at every corner and edge, in every style,
and no mask on images without text.

The truth is pixel-exact: each identifier is drawn alone onto the clean image, and
the pixels it changed must lie inside the boxes found (not an OCR oracle: the
detector is judged by geometry).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.imaging.render import RenderOptions, render_path
from rig.library import textsamples as T
from rig.library.burnedin import box_mask, find_text
from rig.library.ocr import OcrEngine, find_tessdata, open_engine
from rig.library.samples import SampleSpec, write_samples
from rig.library.textcheck import dicom_risk

pytestmark = pytest.mark.skipif(
    find_tessdata() is None, reason="tesseract-ocr-eng is not installed (scripts/test installs it)"
)
# Text-free images may lose at most this fraction of their area to masks (documented
# in README, measured 0 on every image here).
FALSE_MASK_TOLERANCE = 0.005


@pytest.fixture(scope="module")
def engine() -> Iterator[OcrEngine]:
    with open_engine() as ocr:
        yield ocr


def drawn_pixels(clean: np.ndarray, burn: T.Burn) -> np.ndarray:
    """Pixels that ``burn`` changes (its text and banner), as an (H, W) mask."""
    return np.any(T.burn(clean, (burn,)) != clean, axis=-1)


def text_pixels(clean: np.ndarray, burn: T.Burn) -> np.ndarray:
    """Only the letters: drawn without their banner, over the same background."""
    return drawn_pixels(
        clean, T.Burn(burn.text, burn.position, burn.size, (burn.colours[0], None), burn.hershey)
    )


def restyle(burns: tuple[T.Burn, ...], colours, size_scale: float = 1.0) -> tuple[T.Burn, ...]:  # type: ignore[no-untyped-def]
    return tuple(
        T.Burn(b.text, b.position, max(8, round(b.size * size_scale)), colours, b.hershey)
        for b in burns
    )


STYLES = {
    "as scanners draw them": T.US_BURNS,
    "white on blue": restyle(T.US_BURNS, T.WHITE_ON_BLUE),
    "grey on black": restyle(T.US_BURNS, T.GREY_ON_BLACK),
    "small fonts": restyle(T.US_BURNS, ((230, 230, 230), None), size_scale=0.7),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_every_identifier_at_every_corner_and_edge_is_found(style: str, engine: OcrEngine) -> None:
    burns = STYLES[style]
    assert {b.position for b in burns} == set(T.POSITIONS)
    clean = T.us_rgb(burns=())
    boxes = find_text(T.burn(clean, burns), engine)
    covered = box_mask(clean.shape, boxes)
    for burn in burns:
        letters = text_pixels(clean, burn)
        inside = covered[letters].mean()
        assert inside >= 0.995, (
            f"{burn.text!r} at {burn.position}: {inside:.1%} of its pixels masked"
        )


def test_a_name_over_the_anatomy_of_a_large_cr_is_found(engine: OcrEngine) -> None:
    stored = T.cr_monochrome1(2500, 2048)
    name = T.Burn("DOE^JOHN 1962", "left", 36, ((255, 255, 255), None))  # over the body's edge
    burns = (*T.CR_BURNS, name)
    shown = T.displayed_mono(T.burn_mono(stored, burns, monochrome1=True), monochrome1=True)
    clean = T.displayed_mono(stored, monochrome1=True)
    boxes = find_text(shown, engine)
    covered = box_mask(shown.shape, boxes)
    rgb = np.repeat(clean[..., None], 3, axis=2)
    for burn in burns:
        letters = text_pixels(rgb, burn)
        assert covered[letters].mean() >= 0.995, burn.text


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.sampled_from(
        ["JANE DOE", "ID 4471-2290", "12/07/2019 08:15", "ST MARY HOSP", "Acc 99120"]
    ),
    position=st.sampled_from(T.POSITIONS),
    size=st.integers(9, 30),
    grey=st.integers(150, 255),
    banner=st.sampled_from([None, (30, 40, 160), (90, 20, 20), (20, 90, 40), (60, 60, 60)]),
    seed=st.integers(0, 3),
)
def test_random_identifiers_are_found(  # type: ignore[no-untyped-def]
    text, position, size, grey, banner, seed, engine
) -> None:
    burn = T.Burn(text, position, size, ((grey, grey, grey), banner))
    clean = T.us_rgb(burns=(), seed=seed)
    boxes = find_text(T.burn(clean, (burn,)), engine)
    letters = text_pixels(clean, burn)
    assert box_mask(clean.shape, boxes)[letters].mean() >= 0.995


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_mask_on_ultrasound_without_text(seed: int, engine: OcrEngine) -> None:
    clean = T.us_rgb(burns=(), seed=seed)
    masked = box_mask(clean.shape, find_text(clean, engine)).mean()
    assert masked <= FALSE_MASK_TOLERANCE


def test_no_mask_on_radiographs_without_text(tmp_path, engine: OcrEngine) -> None:  # type: ignore[no-untyped-def]
    cr = T.displayed_mono(T.cr_monochrome1(2500, 2048), monochrome1=True)
    assert box_mask(cr.shape, find_text(cr, engine)).mean() <= FALSE_MASK_TOLERANCE
    # rig's demo radiographs without their corner annotation: anatomy, tubes, wires, marker.
    write_samples(tmp_path / "plain", n_images=4, seed=11, spec=SampleSpec(annotation=False))
    for path in sorted((tmp_path / "plain").rglob("*.dcm")):
        shown = render_path(path, RenderOptions()).pixels
        assert box_mask(shown.shape, find_text(shown, engine)).mean() <= FALSE_MASK_TOLERANCE
    # With it (station, view, technique in one corner), masks stay in the corners.
    write_samples(tmp_path / "annotated", n_images=4, seed=11)
    for path in sorted((tmp_path / "annotated").rglob("*.dcm")):
        shown = render_path(path, RenderOptions()).pixels
        h, w = shown.shape[:2]
        for x, y, bw, bh in find_text(shown, engine):
            near_x = x + bw <= 0.4 * w or x >= 0.6 * w
            near_y = y + bh <= 0.3 * h or y >= 0.7 * h
            assert near_x and near_y, f"{path.name}: mask at {(x, y, bw, bh)} is over anatomy"


@pytest.mark.parametrize(
    ("modality", "sop_class", "burned_in", "at_risk", "reason"),
    [
        ("US", "1.2.840.10008.5.1.4.1.1.6.1", "NO", True, "modality US"),
        ("OT", "1.2.840.10008.5.1.4.1.1.7", None, True, "modality OT"),
        ("", "1.2.840.10008.5.1.4.1.1.7.4", "NO", True, "secondary capture"),
        ("", "1.2.840.10008.5.1.4.1.1.3.1", "NO", True, "ultrasound SOP class"),
        ("CR", "1.2.840.10008.5.1.4.1.1.1", "YES", True, "BurnedInAnnotation YES"),
        ("CT", "1.2.840.10008.5.1.4.1.1.2", None, True, "BurnedInAnnotation absent"),
        ("DX", "1.2.840.10008.5.1.4.1.1.1.1", "NO ", False, "BurnedInAnnotation NO"),
        ("mr", "1.2.840.10008.5.1.4.1.1.4", "no", False, "BurnedInAnnotation NO"),
        (
            "MR",
            "1.2.840.10008.5.1.4.1.1.4",
            ["NO", "YES"],
            True,
            "BurnedInAnnotation neither YES nor NO",
        ),
    ],
)
def test_which_images_are_checked(
    modality: str, sop_class: str, burned_in: object, at_risk: bool, reason: str
) -> None:
    risk = dicom_risk(modality, sop_class, burned_in)
    assert (risk.at_risk, risk.reason) == (at_risk, reason)
