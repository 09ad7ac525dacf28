"""Pairing payload (docs/protocol.md §3): the ``rig1://`` URI, its QR code, and parsing.

The payload is a plain string so a phone needs nothing but a QR scanner; the QR helpers use
OpenCV's encoder/detector and are only imported by adapters and the CLI.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from rig.errors import InputError
from rig.protocol.auth import KEY_LEN
from rig.protocol.messages import SESSION_LEN, VERSION

SCHEME = "rig1"


@dataclass(frozen=True)
class Pairing:
    host: str
    udp_port: int
    http_port: int
    session: bytes
    key: bytes
    version: int = VERSION

    def to_uri(self) -> str:
        key = base64.urlsafe_b64encode(self.key).rstrip(b"=").decode("ascii")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"{SCHEME}://{host}:{self.udp_port}/?v={self.version}&sid={self.session.hex()}"
            f"&http={self.http_port}&key={key}"
        )

    def with_udp(self, host: str, port: int) -> Pairing:
        """The same pairing pointing the phone at another UDP address (e.g. a netem proxy)."""
        return Pairing(host, port, self.http_port, self.session, self.key, self.version)


def parse_pairing(text: str) -> Pairing:
    """Parse a pairing URI (§3); InputError naming the bad field otherwise."""
    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() != SCHEME:
        raise InputError(
            f"pairing: field 'scheme': expected a '{SCHEME}://' payload, got '{text[:24]}...'"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    version = _int_field(query.get("v", "1"), "v", 1, 255)
    if version != VERSION:
        raise InputError(
            f"pairing: field 'v': protocol version {version} unsupported (this is {VERSION}); "
            "update the app or the desktop"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname:
        raise InputError("pairing: field 'host' missing; rescan the QR code")
    if port is None or not 1 <= port <= 65535:
        raise InputError("pairing: field 'port' missing or out of range; rescan the QR code")
    http_port = _int_field(_required(query, "http"), "http", 1, 65535)
    session = _hex_field(_required(query, "sid"), "sid", SESSION_LEN)
    key = _key_field(_required(query, "key"))
    return Pairing(parts.hostname, port, http_port, session, key, version)


def _required(query: dict[str, str], name: str) -> str:
    if name not in query:
        raise InputError(f"pairing: field '{name}' missing; rescan the QR code")
    return query[name]


def _int_field(text: str, name: str, lo: int, hi: int) -> int:
    if not text.isascii() or not text.isdigit() or not lo <= int(text) <= hi:
        raise InputError(f"pairing: field '{name}' must be an integer in [{lo}, {hi}]")
    return int(text)


def _hex_field(text: str, name: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != size or len(text) != 2 * size:
        raise InputError(f"pairing: field '{name}' must be {2 * size} hex digits")
    return value


def _key_field(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != KEY_LEN:
        raise InputError(f"pairing: field 'key' must be {KEY_LEN} bytes in base64url")
    return key


def load_pairing(arg: str) -> Pairing:
    """The payload itself, a pairing file, or a PNG/JPEG of its QR code (§3).

    A pairing file is UTF-8 text whose first non-empty line is the URI (later lines ignored).
    """
    if arg.startswith(f"{SCHEME}:"):
        return parse_pairing(arg)
    path = Path(arg)
    if not path.is_file():
        raise InputError(f"pairing: '{arg}' is neither a {SCHEME}:// payload nor a file")
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        return parse_pairing(decode_qr_image(path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the pairing file ({exc})") from None
    first = next((line for line in lines if line.strip()), "")
    return parse_pairing(first)


def qr_matrix(text: str) -> np.ndarray:
    """The QR code of ``text`` as a (N, N) bool array, True = dark module, with quiet zone."""
    import cv2

    img = cv2.QRCodeEncoder.create().encode(text)  # (N, N) uint8, 0 = dark
    return np.pad(img == 0, 4)


def qr_to_text(matrix: np.ndarray) -> str:
    """Render a QR matrix with half-block characters (two module rows per text line)."""
    rows = matrix.shape[0] + matrix.shape[0] % 2
    m = np.zeros((rows, matrix.shape[1]), bool)
    m[: matrix.shape[0]] = matrix
    chars = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}
    return "\n".join(
        "".join(chars[(bool(m[r, c]), bool(m[r + 1, c]))] for c in range(m.shape[1]))
        for r in range(0, rows, 2)
    )


def save_qr_png(text: str, path: Path, module_px: int = 8) -> None:
    import cv2

    img = np.where(qr_matrix(text), 0, 255).astype(np.uint8)
    img = np.kron(img, np.ones((module_px, module_px), np.uint8))
    if not cv2.imwrite(str(path), img):
        raise InputError(f"{path}: cannot write the QR PNG")


def decode_qr_image(path: Path) -> str:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{path}: cannot read the image")
    text = decode_qr_pixels(img)
    if not text:
        raise InputError(f"{path}: no QR code found; photograph it straighter or pass the text")
    return str(text)


def decode_qr_pixels(img: np.ndarray) -> str:
    """The text of the QR code in an 8-bit grey image, or "".

    Tries OpenCV's two QR detectors, then smaller scales of the image.

    The classic detector misses about one random pairing code in thirty even on a perfect PNG
    (its finder-pattern search trips on some module layouts); the ArUco-based one and a
    downscaled image catch those, so one unlucky session key never blocks pairing.
    """
    import cv2

    detectors = [cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()]
    for scale in (1.0, 0.5, 0.25):
        im = img if scale == 1.0 else cv2.resize(img, None, fx=scale, fy=scale,
                                                 interpolation=cv2.INTER_AREA)  # fmt: skip
        if min(im.shape[:2]) < 64:
            break
        for det in detectors:
            text, _, _ = det.detectAndDecode(im)
            if text:
                return str(text)
    return ""
