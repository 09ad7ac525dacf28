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


class ProtocolError(RigError):
    """Base of capture-protocol errors."""


class LocalProtocolError(ProtocolError):
    """We broke the protocol (a bug on our side, or a call in the wrong state)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol (malformed, forged or out-of-order messages)."""


class RegistrationError(RigError):
    """A photo cannot be registered to its ground-truth frame."""
