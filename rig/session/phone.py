"""A phone as the session's camera: the capture protocol of docs/protocol.md.

``ProtocolCapturer`` runs the desktop endpoint (UDP control + HTTP upload) and, for
``--camera sim``, an in-process simulated phone that pairs from the same QR payload
over real loopback sockets. The endpoint's key, session id, addresses and ports are
kept in the session's ``pairing`` record, so after a desktop restart ``rig session
resume`` listens where the phone expects it and the phone need not be paired again.

Camera URLs (checked here, before a session row exists, and stored in the plan, so a
resumed session keeps them):

    phone[?bind=ADDR&advertise=HOST&udp_port=N&http_port=N]
        a real phone (or ``rig phone-sim``); by default the desktop listens on every
        interface and tells the phone the address of the default route's interface
        (``rig session start --bind/--advertise/--udp-port/--http-port`` set these)
    sim[?preset=P&faults=SPEC&shot_ms=N&upload_ms=N&seed=S]
        the in-process simulated phone, on loopback

Timeouts compose with the session's (rig.session.capture): ``limits`` are the
endpoint's own bounds (its shot wait honours the camera timeout the phone announced in
its HELLO), and every step the phone makes — the request acknowledged, the photo
announced, more upload bytes — is reported as progress, so the session's deadline
follows the protocol machine's instead of cutting a slow but working phone off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rig.devices.urls import CameraUrl, check_options, float_option, int_option
from rig.errors import InputError, RigError, UsageError
from rig.protocol import endpoint as pe
from rig.protocol import events as pev
from rig.protocol.desktop import CaptureProgress
from rig.protocol.netaddr import NetworkOptions
from rig.protocol.timers import Timers
from rig.protocol.upload import PhotoRecord
from rig.session.capture import (
    CapturedPhoto,
    CaptureLimits,
    CapturePhase,
    CapturerEnv,
    CaptureRequest,
    ProgressCallback,
)
from rig.session.plan import CapturePlan

SIM_OPTIONS = ("preset", "faults", "shot_ms", "upload_ms", "seed")
NETWORK_OPTIONS = ("bind", "advertise", "udp_port", "http_port")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")  # RFC 1123 host names

ScreenTap = Callable[[float], np.ndarray | None]  # unix time -> the frame visible then


@dataclass(frozen=True)
class PairingRecord:
    """What the session keeps so a resumed desktop is the same peer for the phone."""

    key_hex: str
    sid_hex: str
    host: str  # the address the desktop binds
    udp_port: int
    http_port: int
    advertise: str = ""  # the address the phone is told ("" = the bind address, or found)

    @classmethod
    def fresh(cls, host: str = "127.0.0.1") -> PairingRecord:
        return cls(secrets.token_hex(32), secrets.token_hex(8), host, 0, 0)

    def with_network(self, net: NetworkOptions) -> PairingRecord:
        """The camera URL's network options applied (a resumed session keeps the ports it
        listened on unless fixed ones are given)."""
        return PairingRecord(self.key_hex, self.sid_hex, net.bind, net.udp_port or self.udp_port,
                             net.http_port or self.http_port, net.advertise)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_hex": self.key_hex,
            "sid_hex": self.sid_hex,
            "host": self.host,
            "udp_port": self.udp_port,
            "http_port": self.http_port,
            "advertise": self.advertise,
        }


@dataclass(frozen=True)
class SimPhoneOptions:
    """The in-process simulated phone of ``--camera sim``."""

    preset: str | None = "paper-lcd-iphone"
    faults: str = ""
    shot_ms: float = 0.0  # how long each shot takes
    upload_ms: float = 0.0  # how long each upload's bytes take to arrive (a slow link)
    seed: int = 0

    def camera_timeout_s(self) -> float:
        """The simulated phone's camera timeout (announced in its HELLO): long enough for
        its own shots, as a real phone's is for its camera."""
        default = Timers().camera_timeout_s
        return float(max(default, math.ceil(self.shot_ms / 1000 * 1.25)))


@dataclass(frozen=True)
class PhoneSpec:
    """``--camera phone`` (a phone pairs by QR) or ``--camera sim?…`` (the simulated phone)."""

    sim: SimPhoneOptions | None = None
    network: NetworkOptions | None = None  # a real phone: where to listen, what to advertise
    pairs: bool = True

    def build(self, env: CapturerEnv) -> ProtocolCapturer:
        record = PairingRecord(**env.pairing) if env.pairing else PairingRecord.fresh()
        return ProtocolCapturer(
            record, env.session_dir / "uploads", env.screen_tap, self.sim, env.on_pairing,
            self.network, on_paired=env.on_paired,
        )  # fmt: skip


def phone_spec_from_url(url: CameraUrl, plan: CapturePlan) -> PhoneSpec:
    """``phone?bind=ADDR&advertise=HOST&udp_port=N&http_port=N``: checked before a session
    exists (an address that is no address, a port out of range: usage errors)."""
    check_options(url, NETWORK_OPTIONS)
    return PhoneSpec(network=network_options(url))


def network_options(url: CameraUrl) -> NetworkOptions:
    bind = url.option("bind", "0.0.0.0") or ""
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise UsageError(
            f"--bind '{bind}': an IP address of this machine (0.0.0.0 = every interface)"
        ) from None
    advertise = url.option("advertise", "") or ""
    if advertise and not (_is_ip(advertise) or _HOSTNAME.fullmatch(advertise)):
        raise UsageError(f"--advertise '{advertise}': an IP address or host name phones can reach")
    ports = [int_option(url, name, 0) or 0 for name in ("udp_port", "http_port")]
    if not all(0 <= p <= 65535 for p in ports):
        raise UsageError("--udp-port/--http-port: a port number in 1..65535 (0 = any free port)")
    return NetworkOptions(bind, advertise, ports[0], ports[1])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def sim_phone_spec_from_url(url: CameraUrl, plan: CapturePlan) -> PhoneSpec:
    """``sim?preset=P&faults=SPEC&shot_ms=N&upload_ms=N&seed=S``: checked here, before a
    session exists."""
    from rig.camsim import load_preset
    from rig.protocol.faults import parse_faults

    if any(key in NETWORK_OPTIONS for key, _ in url.options):
        raise UsageError(
            "--bind/--advertise/--udp-port/--http-port are for --camera phone "
            "(the simulated phone runs in this process, on loopback)"
        )
    check_options(url, SIM_OPTIONS)
    preset = url.option("preset", "paper-lcd-iphone") or "paper-lcd-iphone"
    if preset != "none":
        load_preset(preset)
    faults = url.option("faults", "") or ""
    parse_faults(faults)
    times = {name: float_option(url, name, 0.0) or 0.0 for name in ("shot_ms", "upload_ms")}
    if any(not 0 <= t <= 3_600_000 for t in times.values()):
        raise UsageError(f"camera '{url}': shot_ms and upload_ms must be in [0, 3600000]")
    sim = SimPhoneOptions(
        None if preset == "none" else preset, faults, times["shot_ms"], times["upload_ms"],
        int_option(url, "seed", 0) or 0,
    )  # fmt: skip
    return PhoneSpec(sim)


def phase_of(progress: CaptureProgress) -> CapturePhase | None:
    """The session's name for how far the phone got (docs/protocol.md §6.2)."""
    if progress.announced or progress.upload_bytes:
        return CapturePhase.TRANSFERRING  # again for every batch of bytes: the upload lives
    return CapturePhase.SHOOTING if progress.acked else None


class ProtocolCapturer:
    """The session's ``Capturer`` over the capture protocol (one ``DesktopEndpoint``)."""

    def __init__(
        self,
        pairing: PairingRecord,
        store_dir: Path,
        screen_tap: ScreenTap | None,
        sim_phone: SimPhoneOptions | None = None,
        on_pairing: Callable[[str, PairingRecord], None] | None = None,
        network: NetworkOptions | None = None,
        timers: Timers | None = None,
        on_paired: Callable[[str], None] | None = None,
        max_inflight: int = 2,
    ) -> None:
        self.pairing = pairing if network is None else pairing.with_network(network)
        self.max_inflight = max_inflight  # photos held on a v1.2 phone at once (0: lock-step)
        self.store_dir = store_dir
        self.screen_tap = screen_tap
        self.sim_phone = sim_phone
        self.on_pairing = on_pairing
        self.timers = timers or Timers()
        self.on_paired = on_paired
        self._paired = False
        self.endpoint: pe.DesktopEndpoint | None = None
        self._phone_task: asyncio.Task[None] | None = None

    @property
    def limits(self) -> CaptureLimits:
        """The endpoint's own bounds (§6.2): an answer within phone_timeout_s, the photo
        within the shot wait (longer once the phone announced a slow camera), the upload
        within upload_timeout_s of its last bytes; the margin is the machine's lateness."""
        endpoint = self.endpoint
        bounds = endpoint.limits() if endpoint is not None else pe.ProtocolLimits.of(self.timers)
        return CaptureLimits(bounds.phone_s + bounds.shot_s, bounds.upload_s, bounds.margin_s)

    def _tap(self, age_ms: float) -> np.ndarray | None:
        assert self.screen_tap is not None
        return self.screen_tap(time.time() - age_ms / 1000)

    async def start(self) -> None:
        p = self.pairing
        endpoint = pe.DesktopEndpoint(
            bytes.fromhex(p.key_hex),
            bytes.fromhex(p.sid_hex),
            p.host,
            p.udp_port,
            p.http_port,
            self.store_dir,
            self._tap if self.screen_tap is not None else None,
            timers=self.timers,
            camera_retries=0,  # the session decides about new attempts (new frame code)
            advertise_host=p.advertise or None,
            max_inflight=self.max_inflight,
        )
        self._paired = False
        self.endpoint = await endpoint.__aenter__()
        endpoint.listeners.append(self._on_protocol_event)
        self.pairing = PairingRecord(p.key_hex, p.sid_hex, p.host, endpoint.udp_port,
                                     endpoint.http_port, endpoint.network.advertise)  # fmt: skip
        uri = endpoint.pairing_payload()
        if self.on_pairing is not None:
            self.on_pairing(uri, self.pairing)
        if self.sim_phone is not None:  # in this process: loopback reaches any bind address
            local = endpoint.pairing().with_udp("127.0.0.1", endpoint.udp_port)
            self._phone_task = asyncio.ensure_future(self._run_sim_phone(local.to_uri()))

    def network_line(self) -> str:
        """Where the desktop listens and what the phone is told (one line for the operator)."""
        return self.endpoint.network_line() if self.endpoint is not None else ""

    async def _run_sim_phone(self, uri: str) -> None:
        from rig.protocol.faults import parse_faults
        from rig.protocol.pairing import parse_pairing
        from rig.protocol.phonesim import PhoneSim, PhoneSimConfig

        sim = self.sim_phone
        assert sim is not None
        cfg = PhoneSimConfig(
            pairing=parse_pairing(uri),
            store=self.store_dir.parent / "sim-phone",
            faults=parse_faults(sim.faults),
            shot_ms=sim.shot_ms,
            upload_ms=sim.upload_ms,
            camera_preset=sim.preset,
            seed=sim.seed,
            timers=Timers(camera_timeout_s=sim.camera_timeout_s()),
        )
        await PhoneSim(cfg).run()

    async def stop(self) -> None:
        if self._phone_task is not None:
            self._phone_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._phone_task
        if self.endpoint is not None:
            await self.endpoint.__aexit__(None, None, None)
            self.endpoint = None

    def _check_sim_phone(self) -> None:
        """A simulated phone that died will never answer: that ends the session, not a wait."""
        task = self._phone_task
        if task is not None and task.done() and not task.cancelled() and task.exception():
            exc = task.exception()
            text = exc.message if isinstance(exc, RigError) else f"{type(exc).__name__}: {exc}"
            raise InputError(f"the simulated phone stopped: {text}")

    def _on_protocol_event(self, event: pev.Event) -> None:
        if isinstance(event, pev.PeerHello) and not self._paired:
            self._paired = True  # HELLO is also the phone's keepalive: announce the first only
            machine = self.endpoint.machine if self.endpoint is not None else None
            if self.on_paired is not None:
                self.on_paired(_address(machine.peer if machine is not None else None))

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        """The photo of exactly (idx, attempt) that reached the upload store before a crash,
        whatever wire pair carried it (the wire map is persisted with the endpoint's state)."""
        if self.endpoint is None:
            return None
        record = self.endpoint.stored(idx, attempt)
        if record is None or record.attempt != attempt:
            return None
        return self._photo(record)

    def _photo(self, record: PhotoRecord) -> CapturedPhoto:
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
        """Errors are the endpoint's: ``PhoneLostError`` (also for any protocol error during
        the capture: the session retries the same attempt) or ``CameraFailedError``."""
        assert self.endpoint is not None, "start() first"
        self._check_sim_phone()
        tag = f"{request.session_id}-{request.idx:06d}-a{request.attempt}"

        def moved(step: CaptureProgress) -> None:
            phase = phase_of(step)
            if phase is not None and (step.item, step.attempt) == (request.idx, request.attempt):
                progress(phase)

        shot = await self.endpoint.shoot(request.idx, request.attempt, tag, None, moved)
        if not shot.held:
            return self._photo(shot.stored.result())
        # v1.2 (§6.4): safe on the phone; the upload and its checks overlap the next item.
        return CapturedPhoto(b"", time.time(), {"camera": "phone"}, later=self._arrival(shot))

    async def _arrival(self, shot: pe.Shot) -> CapturedPhoto:
        return self._photo(await shot.stored)


def _address(peer: Any) -> str:
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
