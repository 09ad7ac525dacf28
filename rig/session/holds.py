"""Why a session is paused: the operator and the camera hold it independently.

The operator pauses and resumes; a lost camera holds the session while its attempt is
retried and releases it when the camera answers again. Keeping the two apart is what
stops an automatic retry from lifting a pause the operator asked for (it used to call
pause() then resume()). The session is paused while either holds it; the operator's
reason is the one shown while both do.
"""

from __future__ import annotations

OPERATOR, CAMERA = "operator", "camera"


class Holds:
    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._reasons)

    def __contains__(self, source: str) -> bool:
        return source in self._reasons

    def hold(self, source: str, reason: str) -> bool:
        """Hold for ``source``; True if that changed anything."""
        if self._reasons.get(source) == reason:
            return False
        self._reasons[source] = reason
        return True

    def release(self, source: str) -> bool:
        """Release ``source``'s hold; True if it held the session."""
        return self._reasons.pop(source, None) is not None

    @property
    def reason(self) -> str:
        """What to tell people: the operator's reason first."""
        return self._reasons.get(OPERATOR) or self._reasons.get(CAMERA) or "paused"
