"""Runs the camera contract (camera_contract.py) over every backend case."""

from camera_contract import (  # noqa: F401  (pytest collects the imported tests)
    camera_case,
    test_capture_after_close_raises,
    test_capture_returns_a_decodable_jpeg_stamped_after_the_request,
    test_connect_and_close_are_idempotent,
    test_missing_device_fails_quickly,
    test_no_stale_frames_after_the_screen_changed,
)
