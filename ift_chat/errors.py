"""The small error hierarchy of ift-chat.

Product code raises these; only the UI edge turns them into ``gr.Error`` and
the CLI edge into an exit message. Every message is meant for a person.
"""


class IftChatError(Exception):
    """Base class: anything we raise on purpose."""


class ValidationError(IftChatError):
    """User input that cannot be accepted (bad value, too big, empty...)."""


class ImageError(ValidationError):
    """An uploaded file that is not a usable image."""


class NotFound(IftChatError):
    """A row or file that should exist does not."""


class PermissionDenied(IftChatError):
    """The caller's role does not allow this action."""


class AuthError(PermissionDenied):
    """Unknown user, wrong password, expired session or invite."""


class BackendError(IftChatError):
    """A model backend failed (server error, disconnect, crash)."""


class BackendUnavailable(BackendError):
    """The backend is not up (starting, down, refused connection)."""


class ContextOverflow(BackendError):
    """The prompt does not fit in the checkpoint's context window."""


class StorageError(IftChatError):
    """Writing to disk or the database failed (disk full, DB busy too long)."""
