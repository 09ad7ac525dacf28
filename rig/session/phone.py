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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.errors import DeviceError, ProtocolError, UsageError
from rig.protocol import endpoint as pe
from rig.protocol.netaddr import NetworkOptions
from rig.session.capture import CameraFailedError, CapturedPhoto, CaptureRequest, PhoneLostError


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
        """``--bind/--advertise/--udp-port/--http-port`` applied (a resumed session keeps its
        own ports unless new ones are given)."""
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
    shot_ms: float = 0.0
    seed: int = 0


def phone_network(camera: str) -> NetworkOptions | None:
    """``phone?bind=ADDR&advertise=HOST&udp_port=N&http_port=N`` → the options; None if absent."""
    from urllib.parse import parse_qs, urlsplit

    query = {k: v[-1] for k, v in parse_qs(urlsplit(camera).query).items()}
    if not {"bind", "advertise", "udp_port", "http_port"} & query.keys():
        return None
    ports = [query.get(name, "0") for name in ("udp_port", "http_port")]
    if not all(p.isdigit() and int(p) <= 65535 for p in ports):
        raise UsageError("--udp-port/--http-port: a port number in 1..65535 (0 = any free port)")
    return NetworkOptions(query.get("bind", "0.0.0.0"), query.get("advertise", ""),
                          int(ports[0]), int(ports[1]))  # fmt: skip


def with_phone_network(
    camera: str, bind: str | None, advertise: str | None, udp_port: int | None,
    http_port: int | None,
) -> str:  # fmt: skip
    """The camera URL with ``rig session start``'s network flags folded in (kept for resume)."""
    from urllib.parse import urlencode

    flags = {"bind": bind, "advertise": advertise, "udp_port": udp_port, "http_port": http_port}
    given = {k: str(v) for k, v in flags.items() if v is not None}
    if not given:
        return camera
    if camera.split("?")[0] != "phone":
        raise UsageError("--bind/--advertise/--udp-port/--http-port need --camera phone")
    url = camera + ("&" if "?" in camera else "?") + urlencode(given)
    phone_network(url)  # validated before any session row exists
    return url


class ProtocolCapturer:
    def __init__(
        self,
        pairing: PairingRecord,
        store_dir: Path,
        screen_tap: Callable[[float], Any] | None,  # unix time -> the frame visible then
        sim_phone: SimPhoneOptions | None = None,
        on_pairing: Callable[[str, PairingRecord], None] | None = None,
        network: NetworkOptions | None = None,
    ) -> None:
        if network is None and sim_phone is None and not pairing.udp_port:
            network = NetworkOptions()  # a real phone: all interfaces, the default route's address
        self.pairing = pairing if network is None else pairing.with_network(network)
        self.store_dir = store_dir
        self.screen_tap = screen_tap
        self.sim_phone = sim_phone
        self.on_pairing = on_pairing
        self.endpoint: pe.DesktopEndpoint | None = None
        self._phone_task: asyncio.Task[None] | None = None

    def _tap(self, age_ms: float) -> Any:
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
            camera_retries=0,  # the session decides about new attempts (new frame code)
            advertise_host=p.advertise or None,
        )
        self.endpoint = await endpoint.__aenter__()
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

    def limits(self) -> pe.CaptureLimits | None:
        """How long a capture may take (shot + upload + silence), for the session's deadline."""
        return self.endpoint.limits() if self.endpoint is not None else None

    def progress(self) -> Any:
        """The open capture's progress (acknowledged, photo announced, upload bytes), or None."""
        return self.endpoint.progress() if self.endpoint is not None else None

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

    def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
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

    async def capture(self, request: CaptureRequest) -> CapturedPhoto:
        assert self.endpoint is not None, "start() first"
        tag = f"{request.session_id}-{request.idx:06d}-a{request.attempt}"
        try:
            record = await self.endpoint.capture(request.idx, request.attempt, tag, None)
        except pe.PhoneLostError as exc:
            raise PhoneLostError(exc.message) from exc
        except pe.CameraFailedError as exc:
            raise CameraFailedError(exc.message) from exc
        except (DeviceError, ProtocolError) as exc:  # never an exit: the session pauses
            raise PhoneLostError(exc.message) from exc
        return self._photo(record)
