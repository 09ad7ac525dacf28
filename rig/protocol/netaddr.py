"""Where the desktop listens and which address it tells the phone (docs/protocol.md §3, §2).

The desktop binds all interfaces by default and advertises the address of the interface that
carries the default route — the one a phone on the lab's network can reach. ``--bind``,
``--advertise`` and fixed ports override each part; the choice and its reason are reported.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

# A documentation address (RFC 5737): "connecting" a UDP socket to it only asks the kernel which
# local address would route there; no datagram is sent.
_ROUTE_PROBE = ("192.0.2.1", 9)


@dataclass(frozen=True)
class NetworkOptions:
    """``rig session start --bind/--advertise/--udp-port/--http-port`` (0 = any free port)."""

    bind: str = "0.0.0.0"
    advertise: str = ""  # "" = the default route's interface address
    udp_port: int = 0
    http_port: int = 0


@dataclass(frozen=True)
class NetworkChoice:
    bind: str
    advertise: str
    reason: str  # why this advertised address (shown to the operator)

    def describe(self, udp_port: int, http_port: int) -> str:
        return (
            f"listening on {self.bind} (UDP {udp_port}, HTTP {http_port}); "
            f"phones connect to {self.advertise} ({self.reason})"
        )


def default_route_address() -> str | None:
    """The local IPv4 address of the default route's interface, or None without a route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("0.") else address


def choose(bind: str, advertise: str = "") -> NetworkChoice:
    """The advertised address for a desktop bound to ``bind``."""
    if advertise:
        return NetworkChoice(bind, advertise, "--advertise")
    if bind not in ("", "0.0.0.0", "::"):
        return NetworkChoice(bind, bind, "the --bind address")
    route = default_route_address()
    if route is None:
        return NetworkChoice(bind or "0.0.0.0", "127.0.0.1", "no default route: this machine only")
    return NetworkChoice(bind or "0.0.0.0", route, "interface of the default route")
