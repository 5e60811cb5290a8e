"""Exceptions that carry a message meant for the user.

Everything raised as a :class:`CuratorError` is expected (bad input, missing files, a mismatched
bundle) and is shown as one line by the CLI and as a dialog by the GUI; anything else is a bug.
"""


class CuratorError(Exception):
    """A problem the user can fix; ``str(exc)`` is the whole message."""


class BundleError(CuratorError):
    """A task-vector bundle is missing, malformed or does not fit the base model."""


class ProfileError(CuratorError):
    """A personalization profile cannot be read or does not belong to the bundle in use."""


class RatingsError(CuratorError):
    """The user's ratings cannot be used for personalization."""


class ImageDecodeError(CuratorError):
    """One image file cannot be decoded; callers report it and skip the file."""


class DeviceError(CuratorError):
    """The requested compute device does not exist on this machine."""


class Cancelled(Exception):
    """Long work stopped because the user asked it to; not an error."""
