"""Render with DCMTK (the oracle): dcm2pnm / dcmj2pnm / dcml2pnm to an 8-bit PNG."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

# JPEG-LS needs dcml2pnm; dcmj2pnm handles everything else (native, RLE, JPEG).
_JPEG_LS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")


def require_dcmtk() -> None:
    if shutil.which("dcm2pnm") is None or shutil.which("dcmj2pnm") is None:
        pytest.skip("DCMTK (dcm2pnm/dcmj2pnm) is not on PATH")


def dcmtk_args(facts: dict[str, Any], frame: int) -> list[str]:
    """Flags telling DCMTK to use the VOI that rig recorded in its facts."""
    args = ["+on", "-O", "+F", str(frame + 1)]
    source = facts["voi_source"]
    if source in ("window", "minmax", "override"):
        args += ["+Ww", repr(float(facts["window_center"])), repr(float(facts["window_width"]))]
        if facts.get("voi_function") == "SIGMOID":
            args.append("+Wfs")
    elif source == "voi_lut":
        args += ["+Wl", str(facts["voi_lut_index"] + 1)]  # DCMTK counts VOI LUTs from 1
    return args


def dcmtk_render(
    path: Path, facts: dict[str, Any], frame: int = 0, extra: tuple[str, ...] = ()
) -> np.ndarray:
    """DCMTK's rendering of ``path`` with the same VOI as rig used (uint8 array)."""
    require_dcmtk()
    tool = "dcml2pnm" if facts.get("transfer_syntax") in _JPEG_LS else "dcmj2pnm"
    with tempfile.TemporaryDirectory(prefix="rig-dcmtk-") as folder:
        out = Path(folder) / "out.png"
        cmd = [tool, *dcmtk_args(facts, frame), *extra, str(path), str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[:300]}")
        with Image.open(out) as image:
            return np.asarray(image).copy()


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())
