from __future__ import annotations

import numpy as np
import pytest
from quality_helpers import real_like_image


@pytest.fixture(scope="session")
def truth() -> np.ndarray:
    return real_like_image()
