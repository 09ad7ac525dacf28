"""One error hierarchy for rig.

The CLI turns any ``RigError`` into a one-line message and its ``exit_code``;
tracebacks are shown only with ``--debug``. Messages name the file or field at
fault and say what to do, and never carry patient data.
"""

from __future__ import annotations


class RigError(Exception):
    """Base of every error rig raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class UsageError(RigError):
    """The command line itself is wrong (bad flag value, missing project)."""

    exit_code = 2


class InputError(RigError):
    """A file or value the user gave cannot be used (corrupt, unsupported, missing)."""


class StoreError(RigError):
    """The project store is unreadable, inconsistent or fails its integrity checks."""


class DeviceError(RigError):
    """A camera, display or rig controller failed or did not answer in time."""


class PhoneLostError(DeviceError):
    """The camera side stopped answering within its bounded waits (phone, camera link).

    The session pauses and retries the *same* attempt: the capture protocol makes a
    repeated request idempotent (a phone that already shot it re-uploads).
    """


class CameraFailedError(DeviceError):
    """The camera answered but could not take (or deliver) the photo: a new attempt."""


class ProtocolError(RigError):
    """Base of capture-protocol errors."""


class LocalProtocolError(ProtocolError):
    """We broke the protocol (a bug on our side, or a call in the wrong state)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol (malformed, forged or out-of-order messages)."""


class TransitionError(RigError):
    """A state change the session state machine does not allow (rig.session.states).

    Reaching the user it is a request that cannot be honoured (resume an aborted
    session, abort a finished one), hence a usage exit code.
    """

    exit_code = 2


class RegistrationError(RigError):
    """A photo cannot be registered to its ground-truth frame."""
