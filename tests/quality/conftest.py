from __future__ import annotations

import os

import numpy as np
import pytest
from quality_helpers import real_like_image

# The rating window is a real Qt window; without a display it must be offscreen (as in tests/gui).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def truth() -> np.ndarray:
    return real_like_image()
