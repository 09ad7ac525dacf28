"""Which camera took a photo: a real phone's EXIF make and model, else what the session knew."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rig.imaging import codec
from rig.merge.origin import EXIF_MAKE, EXIF_MODEL, camera_identity, exif_make_model


def phone_jpeg(make: str | None, model: str | None) -> bytes:
    """A JPEG as a phone writes it: EXIF IFD0 with Make (0x010F) and Model (0x0110)."""
    image = Image.fromarray(np.full((16, 16, 3), 128, np.uint8))
    exif = Image.Exif()
    if make is not None:
        exif[EXIF_MAKE] = make
    if model is not None:
        exif[EXIF_MODEL] = model
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "model", "expected"),
    [
        ("Apple", "iPhone 13 Pro", "Apple iPhone 13 Pro"),
        ("samsung", "SM-G991B", "samsung SM-G991B"),
        ("Canon", "Canon EOS 250D", "Canon EOS 250D"),  # the model repeats the make
        ("Google", None, "Google"),
        (None, None, None),
    ],
)
def test_exif_make_and_model(make: str | None, model: str | None, expected: str | None) -> None:
    assert exif_make_model(phone_jpeg(make, model)) == expected


def test_without_exif_the_session_says() -> None:
    plain = codec.encode_jpeg(np.zeros((8, 8), np.uint8), 90, what="test")
    assert exif_make_model(b"not an image") is None
    assert camera_identity({}, "sim?preset=none", plain) == "simulated phone (no camera model)"
    assert camera_identity({}, "sim?preset=dim-room", plain) == "simulated phone (dim-room)"
    assert camera_identity({}, "sim:tripod-ideal", plain) == "simulated camera (tripod-ideal)"
    assert camera_identity({"model": "Logitech BRIO"}, "usb:0", plain) == "Logitech BRIO"
    assert camera_identity({}, "phone", plain) == "phone (no EXIF make/model)"
    assert camera_identity({}, "phone", phone_jpeg("Apple", "iPhone 15")) == "Apple iPhone 15"
