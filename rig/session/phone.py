"""A phone as the session's camera: the capture protocol of docs/protocol.md.

``ProtocolCapturer`` runs the desktop endpoint (UDP control + HTTP upload) and, for
``--camera sim``, an in-process simulated phone that pairs from the same QR payload
over real loopback sockets. The endpoint's key, session id and ports are kept in
the session's ``pairing`` record, so after a desktop restart ``rig session resume``
listens where the phone expects it and the phone need not be paired again.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.devices.urls import CameraUrl, check_options, float_option, int_option
from rig.errors import InputError, PhoneLostError, ProtocolError, RigError, UsageError
from rig.protocol import endpoint as pe
from rig.protocol import events as pev
from rig.protocol.timers import Timers
from rig.session.capture import (
    CapturedPhoto,
    CaptureLimits,
    CapturePhase,
    CapturerEnv,
    CaptureRequest,
    ProgressCallback,
)
from rig.session.plan import CapturePlan

SIM_OPTIONS = ("preset", "faults", "shot_ms", "seed")
# Protocol events that mean the capture moved on (docs/protocol.md §6): the phone took the
# request, then announced the photo it is about to upload.
PROGRESS = {pev.CaptureAcked: CapturePhase.SHOOTING, pev.PhotoAnnounced: CapturePhase.TRANSFERRING}


@dataclass(frozen=True)
class PairingRecord:
    """What the session keeps so a resumed desktop is the same peer for the phone."""

    key_hex: str
    sid_hex: str
    host: str
    udp_port: int
    http_port: int

    @classmethod
    def fresh(cls, host: str = "127.0.0.1") -> PairingRecord:
        return cls(secrets.token_hex(32), secrets.token_hex(8), host, 0, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_hex": self.key_hex,
            "sid_hex": self.sid_hex,
            "host": self.host,
            "udp_port": self.udp_port,
            "http_port": self.http_port,
        }


@dataclass(frozen=True)
class SimPhoneOptions:
    """The in-process simulated phone of ``--camera sim``."""

    preset: str | None = "paper-lcd-iphone"
    faults: str = ""
    shot_ms: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class PhoneSpec:
    """``--camera phone`` (a phone pairs by QR) or ``--camera sim?…`` (the simulated phone)."""

    sim: SimPhoneOptions | None = None
    pairs: bool = True

    def build(self, env: CapturerEnv) -> ProtocolCapturer:
        record = PairingRecord(**env.pairing) if env.pairing else PairingRecord.fresh()
        return ProtocolCapturer(
            record, env.session_dir / "uploads", env.screen_tap, self.sim, env.on_pairing
        )


def phone_spec_from_url(url: CameraUrl, plan: CapturePlan) -> PhoneSpec:
    check_options(url, ())
    return PhoneSpec()


def sim_phone_spec_from_url(url: CameraUrl, plan: CapturePlan) -> PhoneSpec:
    """``sim?preset=P&faults=SPEC&shot_ms=N&seed=S``: checked here, before a session exists."""
    from rig.camsim import load_preset
    from rig.protocol.faults import parse_faults

    check_options(url, SIM_OPTIONS)
    preset = url.option("preset", "paper-lcd-iphone") or "paper-lcd-iphone"
    if preset != "none":
        load_preset(preset)
    faults = url.option("faults", "") or ""
    parse_faults(faults)
    shot_ms = float_option(url, "shot_ms", 0.0) or 0.0
    if shot_ms < 0:
        raise UsageError(f"camera '{url}': shot_ms must be >= 0")
    sim = SimPhoneOptions(
        None if preset == "none" else preset, faults, shot_ms, int_option(url, "seed", 0) or 0
    )
    return PhoneSpec(sim)


class ProtocolCapturer:
    def __init__(
        self,
        pairing: PairingRecord,
        store_dir: Path,
        screen_tap: Callable[[], Any] | None,
        sim_phone: SimPhoneOptions | None = None,
        on_pairing: Callable[[str, PairingRecord], None] | None = None,
        display_latency_ms: float = 0.0,
    ) -> None:
        self.pairing = pairing
        self.store_dir = store_dir
        self.screen_tap = screen_tap
        self.sim_phone = sim_phone
        self.on_pairing = on_pairing
        self.display_latency_ms = display_latency_ms
        self.endpoint: pe.DesktopEndpoint | None = None
        self._phone_task: asyncio.Task[None] | None = None
        self._progress: ProgressCallback | None = None

    @property
    def limits(self) -> CaptureLimits:
        """The protocol's own bounds (docs/protocol.md §6): an answer within phone_timeout_s,
        the photo within shot_timeout_s of the ack, the upload within upload_timeout_s."""
        t = self.endpoint.timers if self.endpoint is not None else Timers()
        return CaptureLimits(t.phone_timeout_s + t.shot_timeout_s, t.upload_timeout_s)

    async def start(self) -> None:
        p = self.pairing
        endpoint = pe.DesktopEndpoint(
            bytes.fromhex(p.key_hex),
            bytes.fromhex(p.sid_hex),
            p.host,
            p.udp_port,
            p.http_port,
            self.store_dir,
            self.screen_tap,
            display_latency_ms=self.display_latency_ms,
            camera_retries=0,  # the session decides about new attempts (new frame code)
        )
        self.endpoint = await endpoint.__aenter__()
        endpoint.listeners.append(self._on_protocol_event)
        self.pairing = PairingRecord(
            p.key_hex, p.sid_hex, p.host, endpoint.udp_port, endpoint.http_port
        )
        uri = endpoint.pairing_payload()
        if self.on_pairing is not None:
            self.on_pairing(uri, self.pairing)
        if self.sim_phone is not None:
            self._phone_task = asyncio.ensure_future(self._run_sim_phone(uri))

    async def _run_sim_phone(self, uri: str) -> None:
        from rig.protocol.faults import parse_faults
        from rig.protocol.pairing import parse_pairing
        from rig.protocol.phonesim import PhoneSim, PhoneSimConfig

        assert self.sim_phone is not None
        cfg = PhoneSimConfig(
            pairing=parse_pairing(uri),
            store=self.store_dir.parent / "sim-phone",
            faults=parse_faults(self.sim_phone.faults),
            shot_ms=self.sim_phone.shot_ms,
            camera_preset=self.sim_phone.preset,
            seed=self.sim_phone.seed,
        )
        await PhoneSim(cfg).run()

    async def stop(self) -> None:
        if self._phone_task is not None:
            self._phone_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._phone_task
        if self.endpoint is not None:
            await self.endpoint.__aexit__(None, None, None)

    def _check_sim_phone(self) -> None:
        """A simulated phone that died will never answer: that ends the session, not a wait."""
        task = self._phone_task
        if task is not None and task.done() and not task.cancelled() and task.exception():
            exc = task.exception()
            text = exc.message if isinstance(exc, RigError) else f"{type(exc).__name__}: {exc}"
            raise InputError(f"the simulated phone stopped: {text}")

    def _on_protocol_event(self, event: pev.Event) -> None:
        phase = PROGRESS.get(type(event))
        if phase is not None and self._progress is not None:
            self._progress(phase)

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        """A photo of exactly (idx, attempt) that reached the upload store before a crash."""
        if self.endpoint is None:
            return None
        record = self.endpoint.stored(idx, attempt)
        if record is None or record.attempt != attempt:
            return None
        return self._photo(record)

    def _photo(self, record: Any) -> CapturedPhoto:
        device = {
            "camera": "phone",
            "protocol_attempt": record.attempt,
            "sha256": record.sha256,
            "sim_preset": self.sim_phone.preset if self.sim_phone else None,
        }
        return CapturedPhoto(
            jpeg=Path(record.path).read_bytes(),
            captured_at=record.stored_at,
            device=device,
            path=Path(record.path),
        )

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        assert self.endpoint is not None, "start() first"
        self._check_sim_phone()
        tag = f"{request.session_id}-{request.idx:06d}-a{request.attempt}"
        self._progress = progress
        try:
            record = await self.endpoint.capture(request.idx, request.attempt, tag, None)
        except ProtocolError as exc:  # a protocol fault mid-capture is a device the session retries
            raise PhoneLostError(f"protocol: {exc.message}") from exc
        finally:
            self._progress = None
        return self._photo(record)
