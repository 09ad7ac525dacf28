"""Camera URL parsing, formatting and the backend registry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.devices.urls import CAMERA_BACKENDS, CameraUrl, open_camera, parse_camera_url
from rig.errors import DeviceError, RigError, UsageError

targets = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
option_keys = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
urls = st.builds(
    CameraUrl,
    scheme=st.sampled_from(sorted(CAMERA_BACKENDS)),
    target=targets,
    options=st.dictionaries(option_keys, targets, max_size=4).map(lambda d: tuple(d.items())),
)


@given(urls)
def test_urls_round_trip(url: CameraUrl) -> None:
    assert parse_camera_url(str(url)) == url


@given(st.text(max_size=60))
def test_parser_accepts_or_raises_a_rig_error(text: str) -> None:
    try:
        parsed = parse_camera_url(text)
    except RigError:
        return
    assert parse_camera_url(str(parsed)) == parsed


@pytest.mark.parametrize(("text", "scheme", "target", "options"), [
    ("usb:0", "usb", "0", ()),
    ("usb:/dev/video2?width=3840", "usb", "/dev/video2", (("width", "3840"),)),
    ("usb:/path/to/video.avi", "usb", "/path/to/video.avi", ()),
    ("usb:/data/img_%2503d.png", "usb", "/data/img_%03d.png", ()),
    ("gphoto:", "gphoto", "", ()),
    ("sim:paper-lcd-iphone?seed=3", "sim", "paper-lcd-iphone", (("seed", "3"),)),
    ("phone:", "phone", "", ()),
])
def test_documented_examples(text: str, scheme: str, target: str,
                             options: tuple[tuple[str, str], ...]) -> None:
    assert parse_camera_url(text) == CameraUrl(scheme, target, options)


@pytest.mark.parametrize("bad", ["", "usb", "0:usb", "USB:0", "usb:0?width=1&width=2"])
def test_malformed_urls_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_camera_url(bad)


def test_unknown_scheme_and_option_are_named() -> None:
    with pytest.raises(UsageError, match="unknown scheme 'ftp'"):
        open_camera("ftp:camera")
    with pytest.raises(UsageError, match="unknown option 'widht'"):
        open_camera("usb:0?widht=3840")
    with pytest.raises(UsageError, match="'width' must be an integer"):
        open_camera("usb:0?width=big")


def test_phone_points_at_the_session_command() -> None:
    with pytest.raises(UsageError, match="rig session start --camera phone"):
        open_camera("phone:")


def test_gphoto_without_the_module_says_how_to_install() -> None:
    try:
        import gphoto2  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceError, match=r"install rig\[gphoto\]"):
            open_camera("gphoto:")
    else:
        pytest.skip("gphoto2 is installed here")
