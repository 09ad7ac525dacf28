"""Options for the device tests: ``--camera-url usb:0`` runs the hardware contract tests.

Run them as ``pytest tests/devices --camera-url usb:0`` (this conftest is only
loaded at start-up when tests/devices is on the command line), or set
``RIG_CAMERA_URL=usb:0`` for any pytest invocation.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--camera-url", default=None,
                     help="camera URL for the hardware contract tests, e.g. usb:0")

