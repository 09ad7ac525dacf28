"""Images with identifiers burned into their pixels, made the way scanners make them.

For the burned-in text tests and ``rig bench burned-in``: ultrasound-like sector
scans (black surround, speckle, a coloured banner), palette-colour US, a
MONOCHROME1 CR, a cine loop, text in an overlay plane, written as real DICOM files
and PNGs. Text is drawn with Pillow's bundled FreeType font and OpenCV's Hershey
font: white on blue, grey on black, small fonts, at every corner and edge. All
names and numbers are fictitious.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from rig.imaging import codec

US_IMAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")
CR_IMAGE = UID("1.2.840.10008.5.1.4.1.1.1")

POSITIONS = (
    "top-left",
    "top",
    "top-right",
    "right",
    "bottom-right",
    "bottom",
    "bottom-left",
    "left",
)
WHITE_ON_BLUE = ((255, 255, 255), (30, 40, 160))
GREY_ON_BLACK = ((170, 170, 170), None)


@dataclass(frozen=True)
class Burn:
    text: str
    position: str  # one of POSITIONS
    size: int  # font size, px
    colours: tuple[tuple[int, int, int], tuple[int, int, int] | None]  # (text, banner or None)
    hershey: bool = False  # OpenCV's vector font instead of Pillow's


# Eight identifiers (ids, names, dates, the site, the vendor), one per corner or edge.
# Each needle is a piece an OCR pass would print if the text were still legible.
US_BURNS = (
    Burn("BAPTIST MED CTR", "top-left", 18, WHITE_ON_BLUE),
    Burn("11-05-25-142825", "top", 14, GREY_ON_BLACK),
    Burn("Philips Healthcare", "top-right", 11, GREY_ON_BLACK),
    Burn("DOE^JANE", "right", 16, WHITE_ON_BLUE),
    Burn("5/25/2011 2:56:22 PM", "bottom-right", 10, WHITE_ON_BLUE),
    Burn("MRN 4471-2290", "bottom", 12, GREY_ON_BLACK, hershey=True),
    Burn("SMITH JOHN", "bottom-left", 9, GREY_ON_BLACK),
    Burn("DOB 03/14/1962", "left", 13, ((200, 200, 200), None), hershey=True),
)
US_NEEDLES = ("BAPTIST", "142825", "Philips", "Healthcare", "JANE", "2011", "4471", "SMITH", "1962")


def us_sector(rows: int = 600, columns: int = 800, seed: int = 0) -> np.ndarray:
    """A B-mode-like sector (uint8 gray): speckle in a fan, black everywhere else."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    apex_y, apex_x = rows * 0.07, columns / 2
    radius = np.hypot(xx - apex_x, yy - apex_y)
    angle = np.degrees(np.arctan2(xx - apex_x, yy - apex_y))
    fan = (radius > rows * 0.05) & (radius < rows * 0.88) & (np.abs(angle) < 38)
    speckle = cv2.GaussianBlur(rng.rayleigh(0.3, (rows, columns)).astype(np.float32), (0, 0), 1.0)
    tissue = speckle * 320 * (1.05 - radius / (rows * 1.3))
    tissue += 90 * np.exp(-(((radius - rows * 0.45) / (rows * 0.02)) ** 2))  # an echogenic wall
    return np.where(fan, np.clip(tissue, 0, 255), 0).astype(np.uint8)


def _anchor(
    position: str, box: tuple[int, int], shape: tuple[int, int], margin: int
) -> tuple[int, int]:
    (w, h), (rows, columns) = box, shape
    x = {"left": margin, "centre": (columns - w) // 2, "right": columns - w - margin}
    y = {"top": margin, "middle": (rows - h) // 2, "bottom": rows - h - margin}
    horizontal = "left" if "left" in position else "right" if "right" in position else "centre"
    vertical = "top" if "top" in position else "bottom" if "bottom" in position else "middle"
    return x[horizontal], y[vertical]


def burn(rgb: np.ndarray, burns: tuple[Burn, ...], margin: int = 6) -> np.ndarray:
    """Draw ``burns`` into an (H, W, 3) uint8 image; returns a new array."""
    out = rgb.copy()
    for item in burns:
        out = (
            _burn_hershey(out, item, margin) if item.hershey else _burn_freetype(out, item, margin)
        )
    return out


def _burn_freetype(rgb: np.ndarray, item: Burn, margin: int) -> np.ndarray:
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    fill, banner = item.colours
    font = ImageFont.load_default(size=item.size)
    left, top, right, bottom = (int(v) for v in draw.textbbox((0, 0), item.text, font=font))
    x, y = _anchor(item.position, (right - left, bottom - top), rgb.shape[:2], margin)
    x, y = x - left, y - top
    if banner is not None:
        draw.rectangle((x + left - 3, y + top - 3, x + right + 3, y + bottom + 3), fill=banner)
    draw.text((x, y), item.text, font=font, fill=fill)
    return np.asarray(image).copy()


def _burn_hershey(rgb: np.ndarray, item: Burn, margin: int) -> np.ndarray:
    out = rgb.copy()
    fill, banner = item.colours
    scale = item.size / 22
    (w, h), base = cv2.getTextSize(item.text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = _anchor(item.position, (w, h + base), rgb.shape[:2], margin)
    if banner is not None:
        cv2.rectangle(out, (x - 3, y - 3), (x + w + 3, y + h + base + 3), banner, -1)
    cv2.putText(out, item.text, (x, y + h), cv2.FONT_HERSHEY_SIMPLEX, scale, fill, 1, cv2.LINE_AA)
    return out


def us_rgb(
    burns: tuple[Burn, ...] = US_BURNS, rows: int = 600, columns: int = 800, seed: int = 0
) -> np.ndarray:
    gray = us_sector(rows, columns, seed)
    return burn(np.repeat(gray[..., None], 3, axis=2), burns)


def _dataset(sop_class: UID, modality: str, burned_in: str | None) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "11-05-25-142825"
    ds.Modality = modality
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    return ds


def us_rgb_dicom(path: Path, rgb: np.ndarray, burned_in: str | None = None) -> Path:
    """An RGB ultrasound (US Image Storage), as most scanners export them."""
    ds = _dataset(US_IMAGE, "US", burned_in)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.ascontiguousarray(rgb).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def palette_of(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices uint8, palette (256, 3) uint8): grey ramp 0-199, the image's other colours after."""
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    extra = [c for c in colours if not (c[0] == c[1] == c[2])][:56]
    palette = np.zeros((256, 3), np.uint8)
    palette[:200] = np.round(np.linspace(0, 255, 200))[:, None]
    palette[200 : 200 + len(extra)] = extra
    distances = ((rgb[:, :, None, :].astype(np.int32) - palette[None, None]) ** 2).sum(-1)
    return distances.argmin(-1).astype(np.uint8), palette


def us_palette_dicom(path: Path, rgb: np.ndarray) -> Path:
    """A PALETTE COLOR ultrasound: 8-bit indices and 16-bit red/green/blue tables (PS3.3 C.7.6.3)."""
    indices, palette = palette_of(rgb)
    ds = _dataset(US_IMAGE, "US", None)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "PALETTE COLOR"
    ds.Rows, ds.Columns = indices.shape
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    for colour, channel in zip(("Red", "Green", "Blue"), range(3), strict=True):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        table = palette[:, channel].astype("<u2") * 257
        setattr(ds, f"{colour}PaletteColorLookupTableData", table.tobytes())
    ds.PixelData = indices.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def cr_monochrome1(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    """A chest-like CR (uint16, 12 bits, MONOCHROME1: low stored values display white)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    yy, xx = yy / rows, xx / columns
    body = np.clip((1 - np.hypot((yy - 0.55) / 0.6, (xx - 0.5) / 0.45)) * 6, 0, 1)
    lungs = sum(
        np.clip((1 - np.hypot((yy - 0.45) / 0.28, (xx - cx) / 0.13)) * 6, 0, 1)
        for cx in (0.32, 0.68)
    )
    density = 0.15 + 0.45 * body - 0.3 * lungs
    density += 0.02 * cv2.GaussianBlur(
        rng.standard_normal((rows, columns)).astype(np.float32), (0, 0), 1.5
    )
    return np.round((1 - np.clip(density, 0, 1)) * 4000 + 40).astype(np.uint16)


CR_BURNS = (
    Burn("SMITH^JOHN", "top-left", 40, ((255, 255, 255), None)),
    Burn("ID 552-19-3301", "top-right", 28, ((255, 255, 255), None)),
    Burn("12/07/2019", "bottom-left", 22, ((200, 200, 200), None)),
    Burn("ST MARY HOSP", "bottom-right", 16, ((255, 255, 255), (40, 40, 40))),
)
CR_NEEDLES = ("SMITH", "JOHN", "552", "3301", "2019", "MARY", "HOSP")


def burn_mono(stored: np.ndarray, burns: tuple[Burn, ...], monochrome1: bool) -> np.ndarray:
    """Burn text into 12-bit grey stored values so that it *displays* as drawn (white = white)."""
    top = 4095
    displayed = stored.astype(np.float32) / top
    displayed = 1 - displayed if monochrome1 else displayed
    rgb = np.repeat((displayed * 255).astype(np.uint8)[..., None], 3, axis=2)
    drawn = burn(rgb, burns)[..., 0]
    changed = drawn != rgb[..., 0]
    shown = drawn.astype(np.float32) / 255
    values = (1 - shown if monochrome1 else shown) * top
    return np.where(changed, np.round(values), stored).astype(np.uint16)


def cr_dicom(path: Path, stored: np.ndarray, burned_in: str | None = None) -> Path:
    ds = _dataset(CR_IMAGE, "CR", burned_in)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def png(path: Path, pixels: np.ndarray) -> Path:
    """Write an RGB or grey image as PNG."""
    path.write_bytes(codec.encode_png(pixels, order=codec.RGB, what=str(path)))
    return path


def displayed_mono(stored: np.ndarray, monochrome1: bool) -> np.ndarray:
    """The 8-bit frame of 12-bit ``stored`` values under a full-range linear window."""
    shown = stored.astype(np.float32) / 4095 * 255
    return np.round(255 - shown if monochrome1 else shown).astype(np.uint8)


def us_cine_dicom(path: Path, frames: list[np.ndarray]) -> Path:
    """An RGB ultrasound cine loop (US Multi-frame Image Storage)."""
    ds = _dataset(UID("1.2.840.10008.5.1.4.1.1.3.1"), "US", None)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = frames[0].shape[:2]
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.ascontiguousarray(np.stack(frames)).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def text_bits(shape: tuple[int, int], burns: tuple[Burn, ...]) -> np.ndarray:
    """A boolean (H, W) plane with ``burns`` drawn in it (for an overlay plane)."""
    black = np.zeros((*shape, 3), np.uint8)
    return np.any(burn(black, burns) > 127, axis=-1)


def dx_with_overlay_dicom(path: Path, stored: np.ndarray, bits: np.ndarray) -> Path:
    """A DX (no BurnedInAnnotation) whose overlay plane 6000 carries text (PS3.3 C.9.2)."""
    from pydicom.pixels import pack_bits

    ds = _dataset(UID("1.2.840.10008.5.1.4.1.1.1.1"), "DX", None)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.add_new(0x60000010, "US", bits.shape[0])  # Overlay Rows
    ds.add_new(0x60000011, "US", bits.shape[1])  # Overlay Columns
    ds.add_new(0x60000040, "CS", "G")  # Overlay Type: graphics
    ds.add_new(0x60000050, "SS", [1, 1])  # Overlay Origin
    ds.add_new(0x60000100, "US", 1)  # Overlay Bits Allocated
    ds.add_new(0x60000102, "US", 0)  # Overlay Bit Position
    ds.add_new(0x60003000, "OW", pack_bits(bits.ravel()))
    ds.save_as(path, enforce_file_format=True)
    return path
