"""rig.imaging.codec: lossless PNG round trips in either channel order, JPEG, named errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rig.errors import DeviceError, InputError
from rig.imaging import codec

images = st.one_of(
    arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24))),
    arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.just(3))),
    arrays(np.uint16, st.tuples(st.integers(1, 24), st.integers(1, 24))),
)


@settings(max_examples=60, deadline=None)
@given(images, st.sampled_from([codec.RGB, codec.BGR]))
def test_png_round_trips_exactly_in_its_channel_order(image: np.ndarray, order: str) -> None:
    data = codec.encode_png(image, order=codec.ChannelOrder(order))
    back = codec.decode(data, order=codec.ChannelOrder(order))
    assert back.dtype == image.dtype and np.array_equal(back, image)


def test_channel_order_is_what_opencv_and_pil_agree_on() -> None:
    import cv2

    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255  # pure red in RGB
    bgr = codec.to_bgr(rgb, codec.RGB)
    assert bgr[0, 0].tolist() == [0, 0, 255]
    png = codec.encode_png(rgb, order=codec.RGB)
    # OpenCV reads BGR: a red PNG has its 255 in the last channel.
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[0, 0].tolist() == [
        0,
        0,
        255,
    ]
    assert codec.to_rgb(bgr).tolist() == rgb.tolist()
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert codec.to_bgr(gray) is gray


def test_jpeg_is_close_and_decodes_as_bgr() -> None:
    image = np.full((32, 48, 3), (10, 120, 240), np.uint8)
    back = codec.decode_color(codec.encode_jpeg(image, 95))
    assert back.shape == (32, 48, 3) and np.abs(back.astype(int) - image).max() <= 3


def test_failures_name_what_and_use_the_callers_error() -> None:
    with pytest.raises(InputError, match=r"photo\.jpg: not a readable image"):
        codec.decode_color(b"not an image", "photo.jpg")
    with pytest.raises(DeviceError, match="camera: not a readable image"):
        codec.decode(b"", what="camera", error=DeviceError)
    assert codec.try_decode(b"\x89PNG broken") is None
    with pytest.raises(InputError, match="cannot encode"):
        codec.encode_png(np.zeros((2, 2, 7), np.float64), what="weird")
