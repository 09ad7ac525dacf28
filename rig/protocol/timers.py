"""Timer settings and the retransmission-timeout estimator (docs/protocol.md §6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timers:
    """All waits of both machines, in seconds; every wait in the protocol is bounded by one."""

    rto_initial_s: float = 0.2
    rto_min_s: float = 0.05
    rto_max_s: float = 2.0
    poll_s: float = 1.0
    phone_timeout_s: float = 15.0
    shot_timeout_s: float = 30.0
    upload_timeout_s: float = 60.0
    camera_timeout_s: float = 20.0
    keepalive_s: float = 1.0
    desktop_timeout_s: float = 10.0
    upload_retry_max_s: float = 5.0
    upload_retries: int = 30
    results_kept: int = 256


class RtoEstimator:
    """RFC 6298 smoothed RTT / RTT variance; ``rto_s`` is the next timeout to use."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self.srtt_s: float | None = None
        self.rttvar_s = 0.0
        self.rto_s = timers.rto_initial_s

    def sample(self, rtt_s: float) -> None:
        """Feed an RTT measured on a datagram that was not retransmitted (Karn's rule)."""
        if self.srtt_s is None:
            self.srtt_s, self.rttvar_s = rtt_s, rtt_s / 2
        else:
            self.rttvar_s = 0.75 * self.rttvar_s + 0.25 * abs(self.srtt_s - rtt_s)
            self.srtt_s = 0.875 * self.srtt_s + 0.125 * rtt_s
        self.rto_s = self._clamp(self.srtt_s + max(0.01, 4 * self.rttvar_s))

    def backoff(self) -> float:
        """Double the timeout after a loss; returns the new value."""
        self.rto_s = self._clamp(self.rto_s * 2)
        return self.rto_s

    def _clamp(self, value: float) -> float:
        return min(self.timers.rto_max_s, max(self.timers.rto_min_s, value))
