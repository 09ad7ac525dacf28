"""Which wire (index, attempt) carries each capture of an item (docs/protocol.md §7.3, v1.1).

The desktop asks the phone for *wire* indices and attempts. Normally they equal the session's
item index and attempt. When the phone has already passed an item (its cursor is ahead, and it
cannot or will not go back: a v1.0 phone holding a saved photo of it keeps its cursor after a
RESYNC), the desktop re-plans that capture at the phone's cursor instead of dragging the phone
back — a fresh wire index the phone can always take. The photo is still bound to the item by
the frame code the session verifies; this map only says under which wire name it travels.

Pure data, persisted by the endpoint with its state (before the CAPTURE that uses a new entry
can be answered), so a restarted desktop finds every photo under the right item.
"""

from __future__ import annotations

Pair = tuple[int, int]


class WireMap:
    """Two-way map between (item, attempt) and the wire (index, attempt) that carries it."""

    def __init__(self, entries: list[list[int]] | None = None) -> None:
        self._wire: dict[Pair, Pair] = {}
        self._item: dict[Pair, Pair] = {}
        self._used: set[Pair] = set()  # every wire pair ever requested (retired ones too)
        self._by_item: dict[int, dict[int, Pair]] = {}  # item -> attempt -> wire
        self.version = 0  # bumped on every change: persist when it moves
        self.moved_version = 0  # bumped when an entry is not the identity (a re-plan)
        for item, attempt, wi, wa in entries or []:
            self._set((item, attempt), (wi, wa))
        self.version = self.moved_version = 0

    def entries(self) -> list[list[int]]:
        """Persistable form: [item, attempt, wire_index, wire_attempt] per capture."""
        return [[*k, *v] for k, v in sorted(self._wire.items())]

    def wire(self, item: int, attempt: int) -> Pair | None:
        return self._wire.get((item, attempt))

    def attempts_of(self, item: int) -> dict[int, Pair]:
        """attempt -> wire pair, for every mapped capture of ``item``."""
        return dict(self._by_item.get(item, {}))

    def item(self, index: int, attempt: int) -> Pair | None:
        """The (item, attempt) a wire pair carries; identity for pairs never mapped (v1.0
        stores hold photos named by item)."""
        found = self._item.get((index, attempt))
        if found is not None:
            return found
        return None if (index, attempt) in self._used else (index, attempt)

    def requested(self, index: int, attempt: int) -> bool:
        """Whether the desktop ever sent a CAPTURE for this wire pair (uploads, §5.2)."""
        return (index, attempt) in self._used

    def assign(self, item: int, attempt: int, phone_cursor: int) -> Pair:
        """The wire pair for a capture about to be requested (kept if already assigned).

        Identity unless the pair is taken, or this is the item's first capture and the phone's
        cursor is already past it (then the phone's cursor: no GAP, no RESYNC needed).
        """
        known = self._wire.get((item, attempt))
        if known is not None:
            return known
        first = not self._by_item.get(item)
        index = phone_cursor if first and phone_cursor > item else item
        return self._set((item, attempt), (index, self._free_attempt(index, attempt)))

    def move(self, item: int, attempt: int, index: int) -> Pair:
        """Re-plan (item, attempt) at wire ``index`` (the phone's cursor); the old pair stays
        requested (a late answer to it is recognised as stale, never as this item)."""
        old = self._wire.pop((item, attempt), None)
        if old is not None:
            self._item.pop(old, None)
            self._by_item[item].pop(attempt, None)
        return self._set((item, attempt), (index, self._free_attempt(index, attempt)))

    def _free_attempt(self, index: int, attempt: int) -> int:
        """``attempt``, or above every attempt already used at ``index``: a phone shoots a
        retake only with an attempt higher than any it finished there (§7.1)."""
        taken = [a for i, a in self._used if i == index]
        return attempt if all(a < attempt for a in taken) else max(taken) + 1

    def _set(self, key: Pair, wire: Pair) -> Pair:
        self._wire[key] = wire
        self._item[wire] = key
        self._by_item.setdefault(key[0], {})[key[1]] = wire
        self._used.add(wire)
        self.version += 1
        self.moved_version += wire != key
        return wire
