"""What the desktop endpoint persists across restarts (``protocol-state.json``, §4.6, §7.6).

Seq high-water mark (reserved ahead of use), the phone's last address, the highest seq accepted
from it, and the wire map (which wire pair carries which item: it also says which uploads were
asked for). The file is bound to the session *and the key*: a re-paired session (new key)
starts from an empty window, as does a persisted mark no honest phone could have produced
(``ReplayWindow.restored``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.atomic import write_text_atomic

STATE_NAME = "protocol-state.json"
SEQ_BLOCK = 100_000  # seqs reserved on disk ahead of use (§4.6)


def key_id(key: bytes) -> str:
    """A short keyed fingerprint: tells a re-paired session's state from the old one's."""
    return hmac.new(key, b"rig1-state", hashlib.sha256).hexdigest()[:16]


@dataclass
class EndpointState:
    session_hex: str
    key_id: str
    seq_mark: int = 0
    peer: list[Any] | None = None
    peer_highest: int = 0
    wiremap: list[list[int]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(vars(self)) + os.linesep


class StateFile:
    """Load once, save on change (atomic; fsync only when asked, §4.6 reservations)."""

    def __init__(self, folder: Path, session: bytes, key: bytes) -> None:
        self.path = Path(folder) / STATE_NAME
        self.session_hex, self.key_id = session.hex(), key_id(key)
        self._last = ""

    def load(self) -> EndpointState:
        fresh = EndpointState(self.session_hex, self.key_id)
        try:
            obj = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return fresh
        if (
            not isinstance(obj, dict)
            or obj.get("session_hex", obj.get("session")) != self.session_hex
        ):
            return fresh
        if obj.get("key_id", self.key_id) != self.key_id:  # v1.0 files have no key_id
            return fresh
        try:
            peer = obj.get("peer")
            return EndpointState(
                self.session_hex, self.key_id, int(obj.get("seq_mark", 0)),
                list(peer) if isinstance(peer, list) else None, int(obj.get("peer_highest", 0)),
                [[int(x) for x in e] for e in obj.get("wiremap", []) if len(e) == 4],
            )  # fmt: skip
        except (TypeError, ValueError):
            return fresh

    def save(self, state: EndpointState, durable: bool = True) -> None:
        text = state.to_json()
        if text == self._last:
            return
        if durable:
            write_text_atomic(self.path, text)
        else:  # atomic against a process crash; fsync would double the per-photo disk cost
            tmp = self.path.with_name(f".{STATE_NAME}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)
        self._last = text
